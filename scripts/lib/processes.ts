/** Child processes for the local supervisor and the test harness: spawn TypeScript entry points, read their first JSON line, stop them cleanly. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ROOT } from './local';

/** Runs a TypeScript file with Node and tsx's loader (one process, no wrapper that could eat signals). */
export function spawnTs(file: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(ROOT, file), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves with the first stdout line that parses as JSON and satisfies `accept`, or rejects when the process exits first. */
export function firstJsonLine<T>(child: ChildProcess, accept: (v: unknown) => v is T, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`no ready line within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null) => reject(new Error(`process exited (${code}) before it was ready`));
    child.once('exit', onExit);
    lines.on('line', (line) => {
      try {
        const value: unknown = JSON.parse(line);
        if (accept(value)) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(value);
        }
      } catch {
        // not a JSON line
      }
    });
  });
}

/** `signal` (SIGTERM), then SIGKILL after `graceMs`; resolves once the process is gone. */
export function stopProcess(child: ChildProcess, graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}

/**
 * Polls `check` until it returns a value (not undefined) or the deadline passes; a check that
 * throws counts as "not yet", and its last error is named if the wait times out.
 */
export async function pollFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Polls `check` until it resolves true or the deadline passes. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 200): Promise<void> {
  await pollFor(async () => ((await check()) ? true : undefined), timeoutMs, what, intervalMs);
}
