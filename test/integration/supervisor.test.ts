/**
 * `npm start`'s supervisor (scripts/start.ts) on a dev server of its own: it brings everything up,
 * restarts a child that dies, and stops everything — leaving no process behind — when the dev
 * server dies or when it is told to stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../scripts/lib/local';
import { stopProcess } from '../../scripts/lib/processes';
import { eventually } from '../support/eventually';
import { supervisorEnv } from '../support/ports';

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function startSupervisor(env: Record<string, string>): Promise<Run> {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'start.ts')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => output, exited };
}

/** pids the supervisor reported for each child, latest last. */
function pids(output: string, name: string): number[] {
  return [...output.matchAll(new RegExp(`\\[start\\] ${name} started \\(pid (\\d+)\\)`, 'g'))].map((m) => Number(m[1]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}


/** Waits for the supervisor's ready line; on failure, shows what it printed. */
async function ready(run: Run): Promise<void> {
  try {
    await eventually(async () => (run.output().includes('[start] ready in') ? true : undefined), 90_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the supervisor printed:\n${run.output().slice(-3000)}`);
  }
}

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'saga-supervisor-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

test('a dead child is reported and restarted; a dead dev server stops everything, leaving no process behind', async () => {
  const env = await supervisorEnv(dataDir);
  const run = await startSupervisor(env);
  try {
    await ready(run);
    const [simPid] = pids(run.output(), 'fulfilment');
    process.kill(simPid!, 'SIGKILL');
    await eventually(async () => (pids(run.output(), 'fulfilment').length === 2 ? true : undefined), 20_000);
    expect(run.output()).toMatch(/!!! fulfilment died \(SIGKILL\); restarting/);
    const health = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${env.FULFILMENT_PORT}/_sim/health`);
      return res.ok ? res.json() : undefined;
    });
    expect(health).toMatchObject({ name: 'fulfilment' });

    const children = ['api', 'worker', 'legacy-ecommerce', 'payments', 'fulfilment'].map((n) => pids(run.output(), n).at(-1)!);
    const temporalPid = Number(/"devServerPid":(\d+)/.exec(run.output())?.[1]);
    expect(alive(temporalPid)).toBe(true);
    process.kill(temporalPid, 'SIGKILL');
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/the Temporal dev server exited/);
    expect(children.filter(alive)).toEqual([]);
  } finally {
    await stopProcess(run.child); // SIGTERM first, so that even a failed test leaves no children behind
  }
}, 150_000);

test('SIGTERM stops every child and exits 0', async () => {
  const env = await supervisorEnv(dataDir);
  const run = await startSupervisor(env);
  try {
    await ready(run);
    const children = ['api', 'worker', 'legacy-ecommerce', 'payments', 'fulfilment'].map((n) => pids(run.output(), n).at(-1)!);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(children.filter(alive)).toEqual([]);
  } finally {
    await stopProcess(run.child); // SIGTERM first, so that even a failed test leaves no children behind
  }
}, 150_000);
