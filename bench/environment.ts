/**
 * The benchmark's own system, all on 127.0.0.1 and gone when it stops: an in-memory Temporal dev
 * server, the three simulators as processes, in-process workers and the API on port 0, wired the
 * way test/support/stack.ts wires the integration tests.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Pool } from 'undici';
import { createActivities } from '../src/activities';
import { createApp } from '../src/api/app';
import { signAccessToken } from '../src/api/middleware/auth';
import { loadConfig, type Config } from '../src/config';
import { taskQueues } from '../src/contracts/order';
import { createLogger } from '../src/logger';
import { createMetrics, type Metrics } from '../src/metrics';
import { createClient, createNativeConnection } from '../src/temporal/connection';
import { WORKFLOW_INTERCEPTOR_MODULES, clientInterceptors } from '../src/temporal/interceptors';
import { setupTracing } from '../src/tracing';
import { createDownstreamClients, createWorkers } from '../src/worker';
import { spawnDevServer, waitForTemporal } from '../scripts/lib/dev-server';
import { DATA_DIR, ROOT } from '../scripts/lib/local';
import { firstJsonLine, spawnTs, stopProcess } from '../scripts/lib/processes';
import { freePort } from '../test/support/ports';
import { withWorkers } from '../test/support/workers';
import { chainSteps } from './chain';
import { bareQueue as bareQueueOf } from './noop-queues';

export const SIM_NAMES = { legacy: 'legacy-ecommerce', payments: 'payments', fulfilment: 'fulfilment' } as const;
export type SimName = keyof typeof SIM_NAMES;

/** A simulator fault rule (sim/lib/simulator.ts `FaultRule`); the first rule that matches a call applies. */
export interface FaultRule {
  idempotencyKey?: string;
  latencyMs?: number;
  times?: number;
}

export interface BenchEnvironment {
  config: Config;
  /** Process IDs of the parts started here (no dev server when running against a given Temporal): for the CPU accounting. */
  pids: { devServer?: number; simulators: number[] };
  taskQueue: string;
  /** The API's own kind of client (grpc-js Connection). */
  client: Client;
  /** A client on the workers' NativeConnection: the only kind that can request eager workflow start. */
  nativeClient: Client;
  /** Pools of their own for the "direct" path, as a synchronous proxy would hold them. */
  direct: ReturnType<typeof createDownstreamClients>;
  /** The task queue of the bare saga (bench/noop-workflows.ts): the direct chain's steps as local activities. */
  bareQueue: string;
  /** Keep-alive pool to the API. */
  api: Pool;
  /** Keep-alive pool to a second API, with workers of its own, that has metrics and tracing on. */
  apiObserved: Pool;
  /** Keep-alive pool to a third API on the first one's workers, with FAST_PATH=false: every step on its downstream's queue. */
  apiQueued: Pool;
  /** The environment the API and workers were configured from: a child process started with it joins this system. */
  childEnv: Record<string, string>;
  /** Bundles for bench/worker-process.ts: the product's workflows and the bench's no-op workflows. */
  bundles: { product: string; noop: string };
  /** Starts a TypeScript entry point with `childEnv` plus `env`; it is stopped with everything else at the latest. */
  spawn(file: string, env: Record<string, string>): ChildProcess;
  token(customerId: string): Promise<string>;
  /** Replaces a simulator's fault rules, in order. */
  setFaults(sim: SimName, rules: FaultRule[]): Promise<void>;
  stop(): Promise<void>;
}

/** Longest any one teardown step may take before the next runs anyway (child processes are always stopped). */
const STEP_TIMEOUT_MS = 15_000;

export interface EnvironmentOptions {
  log: (message: string) => void;
  /** Appended to `temporal server start-dev`, e.g. more `--dynamic-config-value` settings. */
  devServerArgs: readonly string[];
  /** Use this Temporal (TEMPORAL_* settings, e.g. the local cluster's, mTLS included) instead of starting a dev server. */
  temporalEnv?: Record<string, string>;
}

export async function startEnvironment({ log, devServerArgs, temporalEnv }: EnvironmentOptions): Promise<BenchEnvironment> {
  const children: ChildProcess[] = [];
  const teardown: { name: string; run: () => Promise<unknown> }[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      for (const step of teardown.reverse()) {
        await bounded(step.run(), STEP_TIMEOUT_MS).catch((err: unknown) => log(`teardown: ${step.name} failed: ${String(err)}`));
      }
      await Promise.all(children.map((child) => stopProcess(child, 5_000)));
    })());

  try {
    const [temporalAddress, legacy, payments, fulfilment, bundlePath, noopBundlePath] = await Promise.all([
      temporalEnv ? Promise.resolve(temporalEnv.TEMPORAL_ADDRESS!) : startDevServer(children, devServerArgs),
      startSimulator(SIM_NAMES.legacy, children),
      startSimulator(SIM_NAMES.payments, children),
      startSimulator(SIM_NAMES.fulfilment, children),
      bundleWorkflows(join(ROOT, 'src', 'workflows', 'index.ts'), 'workflow-bundle.js'),
      bundleWorkflows(join(ROOT, 'bench', 'noop-workflows.ts'), 'noop-bundle.js', []),
    ]);
    log(`${temporalEnv ? 'Temporal' : 'dev server'} at ${temporalAddress}; simulators at ${legacy}, ${payments}, ${fulfilment}`);
    const simUrls: Record<SimName, string> = { legacy, payments, fulfilment };

    const childEnv: Record<string, string> = {
      ...temporalEnv,
      TEMPORAL_ADDRESS: temporalAddress,
      LEGACY_URL: legacy,
      PAYMENTS_URL: payments,
      FULFILMENT_URL: fulfilment,
      TASK_QUEUE_PREFIX: 'bench/',
      JWT_SECRET: randomBytes(32).toString('base64url'),
      PAYMENTS_WEBHOOK_SECRETS: BENCH_WEBHOOK_SECRET,
      LOG_LEVEL: 'silent',
      // The benchmark measures latency and throughput, not the edge's per-customer rate limits.
      RATE_LIMIT_COMMANDS_PER_CUSTOMER: '1000000',
      RATE_LIMIT_READS_PER_CUSTOMER: '1000000',
      RATE_LIMIT_PER_IP: '1000000',
    };
    const config = loadConfig(childEnv);

    const client = await createClient(config);
    teardown.push({ name: 'client connection', run: () => client.connection.close() });
    const connection = await createNativeConnection(config);
    teardown.push({ name: 'native connection', run: () => connection.close() });
    const nativeClient = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });

    const workerDownstream = createDownstreamClients(config);
    const direct = createDownstreamClients(config);
    const bareDownstream = createDownstreamClients(config);
    teardown.push({ name: 'downstream pools', run: () => Promise.all([workerDownstream, direct, bareDownstream].flatMap((set) => Object.values(set)).map((c) => c.http.close())) });

    // One NativeConnection for every worker and for nativeClient: eager start needs the orders worker on the client's connection.
    const workers = await createWorkers({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueuePrefix: config.TASK_QUEUE_PREFIX,
      roles: config.WORKER_QUEUES,
      activities: createActivities(workerDownstream),
      workflowBundle: { codePath: bundlePath },
    });
    // The bare saga: the direct chain's very steps as local activities, on the same connection.
    const bareQueue = bareQueueOf(config.TASK_QUEUE_PREFIX);
    const bareWorker = await Worker.create({ connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: bareQueue, workflowBundle: { codePath: noopBundlePath }, activities: chainSteps(bareDownstream) });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const workersDone = withWorkers([...workers, bareWorker], () => released);
    workersDone.catch((err: unknown) => log(`a worker failed: ${String(err)}`));
    teardown.push({ name: 'workers', run: () => (release(), workersDone) });

    const app = createApp({ client, config, logger: createLogger('silent', 'bench-api') });
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    teardown.push({
      name: 'API server',
      run: () => {
        server.closeAllConnections();
        return new Promise((r) => server.close(r));
      },
    });
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const api = new Pool(apiUrl, { connections: 32 });
    teardown.push({ name: 'API pool', run: () => api.close() });
    log(`API at ${apiUrl}`);
    // FAST_PATH=false: the same workers, the saga input says "every step on its queue".
    const queuedApp = createApp({ client, config: { ...config, FAST_PATH: false }, logger: createLogger('silent', 'bench-api-queued') });
    const queuedServer: Server = queuedApp.listen(0, '127.0.0.1');
    await new Promise((r) => queuedServer.once('listening', r));
    teardown.push({ name: 'queued API server', run: () => (queuedServer.closeAllConnections(), new Promise((r) => queuedServer.close(r))) });
    const apiQueued = new Pool(`http://127.0.0.1:${(queuedServer.address() as AddressInfo).port}`, { connections: 32 });
    teardown.push({ name: 'queued API pool', run: () => apiQueued.close() });
    const apiObserved = await startObservedEdge({ config, connection, bundlePath, teardown, log });

    return {
      config,
      pids: {
        devServer: temporalEnv ? undefined : children.find((c) => c.spawnfile !== process.execPath)?.pid,
        simulators: children.filter((c) => c.spawnfile === process.execPath).map((c) => c.pid!),
      },
      taskQueue: taskQueues(config.TASK_QUEUE_PREFIX).orders,
      client,
      nativeClient,
      direct,
      bareQueue,
      api,
      apiObserved,
      apiQueued,
      childEnv,
      bundles: { product: bundlePath, noop: noopBundlePath },
      spawn(file, extra) {
        const child = spawnTs(file, [], { ...process.env, ...childEnv, ...extra });
        children.push(child);
        forwardStderr(child);
        return child;
      },
      token: (customerId) => signAccessToken({ secret: config.JWT_SECRET!, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, subject: customerId }),
      async setFaults(sim, rules) {
        const base = `${simUrls[sim]}/_sim/faults`;
        await expectStatus(await fetch(base, { method: 'DELETE' }), 204, `clear faults on ${sim}`);
        for (const rule of rules) {
          const res = await fetch(base, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
          await expectStatus(res, 201, `fault rule on ${sim}`);
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The same edge and workers once more, on a task-queue prefix of their own, with metrics and
 * tracing on as under `OTEL_EXPORTER_OTLP_ENDPOINT`: spans batched and sent over OTLP/HTTP to a
 * local sink that accepts them, and both /metrics scraped every 5 s as Prometheus would. Scenarios
 * alternate between the two edges within each round, so the overhead is measured side by side.
 * (Process-wide hooks, the async context and undici's diagnostics channel, are then on for both.)
 */
async function startObservedEdge({ config, connection, bundlePath, teardown, log }: {
  config: Config;
  connection: Awaited<ReturnType<typeof createNativeConnection>>;
  bundlePath: string;
  teardown: { name: string; run: () => Promise<unknown> }[];
  log: (message: string) => void;
}): Promise<Pool> {
  let spansBytes = 0;
  const sink = createServer((req, res) => {
    req.on('data', (c: Buffer) => (spansBytes += c.length));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  teardown.push({ name: 'OTLP sink', run: () => new Promise((r) => sink.close(() => r(log(`OTLP sink received ${(spansBytes / 1024).toFixed(0)} KiB of spans`)))) });
  // BENCH_OBSERVABILITY=off: the second edge is as plain as the first, a control for the pairing
  // itself; `metrics` or `tracing`: only that one.
  const mode = process.env.BENCH_OBSERVABILITY ?? 'on';
  const metered = mode === 'on' || mode === 'metrics';
  const traced = mode === 'on' || mode === 'tracing';
  const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces` });
  const tracing = traced ? setupTracing('saga-coordinator-bench', { spanProcessor: new BatchSpanProcessor(exporter) }) : undefined;
  if (tracing) teardown.push({ name: 'tracing', run: () => tracing.shutdown() });

  const observed = { ...config, TASK_QUEUE_PREFIX: 'bench-observed/' };
  const workerMetrics = metered ? createMetrics({ process: true }) : undefined;
  const apiMetrics = metered ? createMetrics() : undefined;
  const client = await createClient(observed, clientInterceptors(tracing));
  teardown.push({ name: 'observed client connection', run: () => client.connection.close() });
  const downstream = createDownstreamClients(observed, undefined, workerMetrics);
  teardown.push({ name: 'observed downstream pools', run: () => Promise.all(Object.values(downstream).map((c) => c.http.close())) });
  const workers = await createWorkers({
    connection,
    namespace: observed.TEMPORAL_NAMESPACE,
    taskQueuePrefix: observed.TASK_QUEUE_PREFIX,
    roles: observed.WORKER_QUEUES,
    activities: createActivities(downstream),
    workflowBundle: { codePath: bundlePath },
    observability: { metrics: workerMetrics, tracing },
  });
  let release!: () => void;
  const workersDone = withWorkers(workers, () => new Promise<void>((r) => (release = r)));
  teardown.push({ name: 'observed workers', run: () => (release(), workersDone) });

  const app = createApp({ client, config: observed, logger: createLogger('silent', 'bench-api-observed'), metrics: apiMetrics, tracing });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  teardown.push({ name: 'observed API server', run: () => (server.closeAllConnections(), new Promise((r) => server.close(r))) });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const scrape = (m?: Metrics) => m?.registry.metrics();
  const scraper = setInterval(() => void (metered ? Promise.all([fetch(`${url}/metrics`).then((r) => r.text()), scrape(workerMetrics)]) : Promise.resolve()).catch(() => undefined), 5_000);
  teardown.push({ name: 'scraper', run: async () => clearInterval(scraper) });
  const pool = new Pool(url, { connections: 32 });
  teardown.push({ name: 'observed API pool', run: () => pool.close() });
  log(`API with BENCH_OBSERVABILITY=${mode} (metrics ${metered ? 'on' : 'off'}, tracing ${traced ? 'on' : 'off'}) at ${url}`);
  return pool;
}

/**
 * A child's stderr on ours. Not `pipe`: every pipe into process.stderr adds its listeners there, and
 * a run spawns more than ten children (Node's MaxListenersExceededWarning).
 */
function forwardStderr(child: ChildProcess): void {
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
}

/** The payments webhook secret the benchmark's API accepts (scenarios sign with it). */
export const BENCH_WEBHOOK_SECRET = 'whsec_bench_only';

/** In memory and headless, otherwise exactly as `npm start` and the tests run it (scripts/lib/dev-server.ts). */
async function startDevServer(children: ChildProcess[], extraArgs: readonly string[]): Promise<string> {
  const port = await freePort();
  const child = spawnDevServer({ port, extraArgs });
  children.push(child);
  const address = `127.0.0.1:${port}`;
  await waitForTemporal(address);
  return address;
}

async function startSimulator(name: string, children: ChildProcess[]): Promise<string> {
  const child = spawnTs('sim/main.ts', [name, '0'], process.env);
  children.push(child);
  forwardStderr(child);
  const ready = await firstJsonLine(child, (v): v is { url: string } => typeof (v as { url?: unknown })?.url === 'string');
  return ready.url;
}

/** Bundled once per run; createWorkers takes a bundle by path. The no-op workflows go without our interceptors: the engine's own ceiling. */
async function bundleWorkflows(workflowsPath: string, file: string, interceptors: string[] = WORKFLOW_INTERCEPTOR_MODULES): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: interceptors, logger: new DefaultLogger('WARN') });
  const dir = join(DATA_DIR, 'bench');
  mkdirSync(dir, { recursive: true });
  const codePath = join(dir, file);
  writeFileSync(codePath, code);
  return codePath;
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
