/**
 * `npm start`'s supervisor (scripts/start.ts) on a dev server of its own: it brings everything up,
 * restarts a child that dies — the dev server too, on its database file, while the API answers
 * 503 with Retry-After — and stops everything, leaving no process behind, when told to stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../scripts/lib/local';
import { signAccessToken } from '../../src/api/middleware/auth';
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

/** Listens on `port` and drops every connection: a "Temporal" that is down, for as long as the test holds it. */
function holdPort(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

test('a dead child is reported and restarted; a dead dev server is restarted on its database file while the API answers 503', async () => {
  const env = await supervisorEnv(dataDir);
  const run = await startSupervisor(env);
  let held: Server | undefined;
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

    // An order completes before the engine dies…
    const api = `http://127.0.0.1:${env.PORT}`;
    const token = await signAccessToken({ secret: readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim(), issuer: 'saga-coordinator', audience: 'saga-coordinator', subject: 'alice' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const order = { items: [{ sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '49.00' }], currency: 'USD', paymentMethod: { token: 'tok_visa' } };
    const placed = await fetch(`${api}/v1/orders`, { method: 'POST', headers: { ...headers, 'idempotency-key': 'before-the-crash', prefer: 'wait=10' }, body: JSON.stringify(order) });
    expect(placed.status).toBe(201);

    // …then it is SIGKILLed, and kept down (its port held) until the test has seen the API meanwhile.
    const apiPid = pids(run.output(), 'api').at(-1)!;
    await eventually(async () => {
      process.kill(pids(run.output(), 'temporal').at(-1)!, 'SIGKILL');
      held = await eventually(() => holdPort(Number(env.TEMPORAL_PORT)), 2_000, 20).catch(() => undefined);
      return held;
    }, 30_000);
    await eventually(async () => (/!!! temporal died \(SIGKILL\); restarting/.test(run.output()) ? true : undefined));
    const down = await eventually(async () => {
      const res = await fetch(`${api}/readyz`);
      return res.status === 503 ? res : undefined;
    });
    expect(down.headers.get('retry-after')).toBe('1');
    expect(down.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await down.json()) as { detail: string }).detail).toMatch(/Temporal is not answering/);
    expect(alive(apiPid)).toBe(true); // the supervisor kept everything else running

    // Let it come back: the supervisor restarts it on the same database file, and the order is still there.
    await new Promise((r) => held!.close(r));
    held = undefined;
    await eventually(async () => ((await fetch(`${api}/readyz`)).ok ? true : undefined), 60_000);
    const after = await fetch(`${api}/v1/orders/before-the-crash`, { headers });
    expect(after.status).toBe(200);
    expect(((await after.json()) as { status: string }).status).toBe('completed');
  } finally {
    held?.close();
    await stopProcess(run.child); // SIGTERM first, so that even a failed test leaves no children behind
  }
  expect(await run.exited).toBe(0);
}, 180_000);

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
