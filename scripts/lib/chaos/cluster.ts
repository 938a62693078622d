/**
 * The real system as separate processes for the chaos run, each on a free port: the Temporal dev
 * server on a SQLite file, the three simulators, N workers and the API. A process that dies (or
 * is killed on purpose) is started again at once, the dev server on the same database file.
 * Everything a child prints goes to a log file in the run's directory.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { spawnDevServer, waitForTemporal } from '../dev-server';
import { writeWorkflowBundle } from '../bundle';
import { freePort } from '../ports';
import { firstJsonLine, spawnTs, stopProcess, waitUntil } from '../processes';

export type Role = 'temporal' | 'legacy' | 'payments' | 'fulfilment' | 'api' | `worker-${number}`;

interface Child {
  role: Role;
  start: () => ChildProcess;
  /** Resolves once the freshly started process serves. */
  ready: (child: ChildProcess) => Promise<void>;
  process?: ChildProcess;
  up?: Promise<void>;
  starts: number;
}

export interface ClusterOptions {
  dir: string;
  workers: number;
  /** Extra environment for the API and workers (timeouts, payment confirmation timeout…). */
  env?: Record<string, string>;
}

export async function startCluster(options: ClusterOptions) {
  mkdirSync(options.dir, { recursive: true });
  const [temporalPort, apiPort, legacyPort, paymentsPort, fulfilmentPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const simUrls = { legacy: `http://127.0.0.1:${legacyPort}`, payments: `http://127.0.0.1:${paymentsPort}`, fulfilment: `http://127.0.0.1:${fulfilmentPort}` };
  const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;
  const bundlePath = join(options.dir, 'workflow-bundle.js');
  await writeWorkflowBundle(bundlePath);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    LEGACY_URL: simUrls.legacy,
    PAYMENTS_URL: simUrls.payments,
    FULFILMENT_URL: simUrls.fulfilment,
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    JWT_SECRET: randomBytes(32).toString('base64url'),
    PAYLOAD_KEYS: `chaos-${randomBytes(4).toString('hex')}:${randomBytes(32).toString('base64')}`,
    PAYMENTS_WEBHOOK_SECRETS: webhookSecret,
    SIM_WEBHOOK_URL: `${apiUrl}/v1/webhooks/payments`,
    SIM_WEBHOOK_SECRET: webhookSecret,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    LOG_LEVEL: 'warn',
    ...options.env,
  };

  const logs = new Map<string, WriteStream>();
  const log = (role: Role) => {
    const name = role.startsWith('worker') ? 'workers' : role;
    if (!logs.has(name)) logs.set(name, createWriteStream(join(options.dir, `${name}.log`), { flags: 'a' }));
    return logs.get(name)!;
  };
  const readyLine = (child: ChildProcess) => firstJsonLine(child, (v): v is { ready: string } => typeof (v as { ready?: unknown })?.ready === 'string', 60_000).then(() => undefined);

  let stopping = false;
  const children: Child[] = [];
  const add = (role: Role, start: () => ChildProcess, ready: (child: ChildProcess) => Promise<void>) => {
    const entry: Child = { role, start, ready, starts: 0 };
    children.push(entry);
    return entry;
  };
  const launch = (entry: Child): Promise<void> => {
    const child = entry.start();
    entry.process = child;
    entry.starts += 1;
    const out = log(entry.role);
    out.write(`--- ${entry.role} started (pid ${child.pid}) ${new Date().toISOString()}\n`);
    child.stdout?.on('data', (c: Buffer) => out.write(c));
    child.stderr?.on('data', (c: Buffer) => out.write(c));
    child.once('exit', (code, signal) => {
      out.write(`--- ${entry.role} exited (${signal ?? code}) ${new Date().toISOString()}\n`);
      if (!stopping && entry.process === child) entry.up = launch(entry);
    });
    const up = entry.ready(child).catch((err: Error) => void out.write(`--- ${entry.role} not ready: ${err.message}\n`));
    entry.up = up;
    return up;
  };

  const temporal = add(
    'temporal',
    () => spawnDevServer({ port: temporalPort, dbFile: join(options.dir, 'temporal.db'), logLevel: 'error', stdio: ['ignore', 'pipe', 'pipe'] }),
    () => waitForTemporal(env.TEMPORAL_ADDRESS!, 60_000),
  );
  const sims = (['legacy', 'payments', 'fulfilment'] as const).map((name) =>
    add(name, () => spawnTs('sim/main.ts', [name === 'legacy' ? 'legacy-ecommerce' : name, String({ legacy: legacyPort, payments: paymentsPort, fulfilment: fulfilmentPort }[name])], env), readyLine),
  );
  const workers = Array.from({ length: options.workers }, (_, i) => add(`worker-${i}`, () => spawnTs('src/worker.ts', [], { ...env, METRICS_PORT: '0' }), readyLine));
  const api = add('api', () => spawnTs('src/api/server.ts', [], env), readyLine);

  await launch(temporal);
  await Promise.all(sims.map(launch));
  await Promise.all([...workers, api].map(launch));
  await waitUntil(async () => (await fetch(`${apiUrl}/readyz`)).ok, 120_000, 'the API to be ready');

  /** SIGKILLs a process; the cluster starts it again at once. Resolves when the new one serves. */
  async function kill(entry: Child): Promise<void> {
    const child = entry.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return void (await entry.up);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    await entry.up;
  }

  return {
    apiUrl,
    simUrls,
    env,
    webhookSecret,
    temporalAddress: env.TEMPORAL_ADDRESS!,
    workerCount: options.workers,
    killTemporal: () => kill(temporal),
    killApi: () => kill(api),
    killWorker: (i: number) => kill(workers[i % workers.length]!),
    /** Resolves once every process is up (after the restarts the faults caused). */
    allUp: async () => {
      await Promise.all(children.map((c) => c.up));
    },
    starts: () => Object.fromEntries(children.map((c) => [c.role, c.starts])),
    async stop(): Promise<void> {
      stopping = true;
      await Promise.all([api, ...workers].map((c) => (c.process ? stopProcess(c.process, 5_000) : undefined)));
      await Promise.all([...sims, temporal].map((c) => (c.process ? stopProcess(c.process, 5_000) : undefined)));
      await Promise.all([...logs.values()].map((s) => new Promise((r) => s.end(r))));
    },
  };
}

export type Cluster = Awaited<ReturnType<typeof startCluster>>;
