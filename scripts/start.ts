/**
 * `npm start`: brings the whole system up on this machine and supervises it — the Temporal dev
 * server (unless TEMPORAL_ADDRESS points elsewhere; with SAGA_PROFILE=cluster, the local
 * multi-service cluster of scripts/lib/cluster instead), the three downstream simulators, the
 * worker(s), the API and Prometheus scraping them. A child that dies is reported and restarted with
 * backoff, the dev server too (on the same database file, so no workflow is lost; meanwhile /readyz
 * answers 503 with Retry-After). SIGINT/SIGTERM stop every child and leave nothing behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runningCluster, startCluster, type Cluster } from './lib/cluster';
import { spawnDevServer, waitForTemporal } from './lib/dev-server';
import { DATA_DIR, localJwtSecret, localPaymentsWebhookSecret, localPayloadKeys } from './lib/local';
import { spawnTs, stopProcess, waitUntil } from './lib/processes';

const env = { ...process.env };
const profile = env.SAGA_PROFILE === 'cluster' ? 'cluster' : 'dev';
const external = Boolean(process.env.TEMPORAL_ADDRESS);
if (external && profile === 'cluster') {
  console.error('[start] SAGA_PROFILE=cluster runs the local cluster: unset TEMPORAL_ADDRESS (or unset SAGA_PROFILE to use your own cluster)');
  process.exit(2);
}
const temporalPort = Number(env.TEMPORAL_PORT ?? 7233);
const uiPort = Number(env.TEMPORAL_UI_PORT ?? 8233);
const apiPort = Number(env.PORT ?? 3000);
/** The first worker's GET /metrics; with WORKERS=split the others follow on the next ports. */
const workerMetricsPort = Number(env.METRICS_PORT ?? 9464);
const temporalMetricsPort = Number(env.TEMPORAL_METRICS_PORT ?? 7235);
const prometheusPort = Number(env.PROMETHEUS_PORT ?? 9090);
env.TEMPORAL_ADDRESS ??= `127.0.0.1:${temporalPort}`;
env.JWT_SECRET = localJwtSecret(env);
// Payloads are always encrypted under npm start; the API serves the Web UI's codec endpoint.
env.PAYLOAD_KEYS = localPayloadKeys(env);
env.CODEC_CORS_ORIGINS ??= `http://localhost:${uiPort},http://127.0.0.1:${uiPort}`;
env.LEGACY_URL ??= `http://127.0.0.1:${env.LEGACY_PORT ?? 4101}`;
env.PAYMENTS_URL ??= `http://127.0.0.1:${env.PAYMENTS_PORT ?? 4102}`;
env.FULFILMENT_URL ??= `http://127.0.0.1:${env.FULFILMENT_PORT ?? 4103}`;
env.PORT = String(apiPort);
// The payments simulator signs its webhooks with the secret the receiver checks, and sends them to the API.
env.PAYMENTS_WEBHOOK_SECRETS ??= localPaymentsWebhookSecret(env);
env.SIM_WEBHOOK_SECRET ??= env.PAYMENTS_WEBHOOK_SECRETS.split(',')[0];
env.SIM_WEBHOOK_URL ??= `http://127.0.0.1:${apiPort}/v1/webhooks/payments`;

/** `WORKERS=split` runs one worker process per task queue (bulkheads as processes); the default is one process for all. */
const workerGroups = env.WORKERS === 'split' ? ['orders', 'legacyEcommerce', 'payments', 'fulfilment'] : [env.WORKER_QUEUES ?? 'orders,legacyEcommerce,payments,fulfilment'];

interface Supervised {
  name: string;
  start: () => ChildProcess;
  child?: ChildProcess;
  restarts: number;
  startedAt: number;
}

let stopping = false;
const supervised: Supervised[] = [];
let cluster: Cluster | undefined;

function log(message: string): void {
  process.stdout.write(`[start] ${message}\n`);
}

function pipe(name: string, child: ChildProcess): void {
  const prefix = `[${name}] `;
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line) process.stdout.write(prefix + line + '\n');
    });
  }
}

/** Starts a child and restarts it with backoff whenever it dies; resolves once a line matches `ready`. */
function supervise(name: string, start: () => ChildProcess, ready: RegExp): Promise<void> {
  const entry: Supervised = { name, start, restarts: 0, startedAt: 0 };
  supervised.push(entry);
  let markReady: () => void;
  const isReady = new Promise<void>((r) => (markReady = r));
  const launch = () => {
    entry.startedAt = Date.now();
    const child = entry.start();
    entry.child = child;
    log(`${name} started (pid ${child.pid})`);
    pipe(name, child);
    child.stdout?.on('data', (chunk: Buffer) => ready.test(chunk.toString()) && markReady());
    child.on('exit', (code, signal) => {
      if (stopping) return;
      // Backoff grows with quick successive crashes and resets after a minute of healthy running.
      if (Date.now() - entry.startedAt > 60_000) entry.restarts = 0;
      const delay = Math.min(30_000, 500 * 2 ** entry.restarts);
      entry.restarts += 1;
      log(`!!! ${name} died (${signal ?? `exit ${code}`}); restarting in ${delay} ms (restart #${entry.restarts})`);
      setTimeout(() => !stopping && launch(), delay);
    });
  };
  launch();
  return isReady;
}

/** The dev server, supervised like every other child: restarted on its database file if it dies. */
async function startDevServer(): Promise<void> {
  mkdirSync(DATA_DIR, { recursive: true });
  const start = () =>
    spawnDevServer({
      port: temporalPort,
      uiPort,
      codecEndpoint: `http://127.0.0.1:${apiPort}/codec`,
      dbFile: join(DATA_DIR, 'temporal.db'),
      logLevel: 'warn',
      extraArgs: ['--metrics-port', String(temporalMetricsPort)],
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  void supervise('temporal', start, /Temporal Server/);
  await waitForTemporal(env.TEMPORAL_ADDRESS!);
}

/** SAGA_PROFILE=cluster: the cluster `npm run cluster` already runs from .data/cluster, or a new one (stopped with us). */
async function useLocalCluster(): Promise<void> {
  const dir = join(DATA_DIR, 'cluster');
  const running = runningCluster(dir);
  if (running) {
    log(`using the local cluster already running from ${dir} (npm run cluster)`);
    Object.assign(env, running.env);
    return;
  }
  cluster = await startCluster({ dir, frontendPort: temporalPort, uiPort, codecEndpoint: `http://127.0.0.1:${apiPort}/codec`, log: (m) => log(`cluster: ${m}`) });
  Object.assign(env, cluster.env);
}

/**
 * Prometheus (Debian's package, scripts/install-prometheus.sh) on 127.0.0.1, data under .data/,
 * scraping the API, every worker and the dev server. PROMETHEUS=off leaves it out.
 */
async function startPrometheus(workerMetricsPorts: number[]): Promise<string | undefined> {
  if (env.PROMETHEUS === 'off') return undefined;
  if (spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status !== 0) {
    log('prometheus is not installed (bash scripts/install-prometheus.sh); running without it');
    return undefined;
  }
  const dir = join(DATA_DIR, 'prometheus');
  mkdirSync(dir, { recursive: true });
  const job = (name: string, targets: string[]) => `  - job_name: ${name}\n    static_configs:\n      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]\n`;
  const config = [
    '# Written by npm start (scripts/start.ts) on every start.',
    'global:',
    '  scrape_interval: 5s',
    '  evaluation_interval: 5s',
    'scrape_configs:',
    job('saga-api', [`127.0.0.1:${apiPort}`]).trimEnd(),
    job('saga-worker', workerMetricsPorts.map((p) => `127.0.0.1:${p}`)).trimEnd(),
    ...(external || profile === 'cluster' ? [] : [job('temporal', [`127.0.0.1:${temporalMetricsPort}`]).trimEnd()]), // the cluster's processes serve no metrics
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const args = [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    '--storage.tsdb.retention.time=7d',
    `--web.listen-address=127.0.0.1:${prometheusPort}`,
    '--log.level=warn',
  ];
  void supervise('prometheus', () => spawn('prometheus', args, { stdio: ['ignore', 'pipe', 'pipe'] }), /^$/);
  const url = `http://127.0.0.1:${prometheusPort}`;
  await waitUntil(async () => (await fetch(`${url}/-/ready`)).ok, 60_000, 'Prometheus');
  return url;
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  // Newest first: the API and workers, then the simulators, and the dev server last.
  for (const group of [supervised.filter((s) => s.name !== 'temporal'), supervised.filter((s) => s.name === 'temporal')]) {
    await Promise.all(group.map((s) => (s.child ? stopProcess(s.child) : Promise.resolve())));
  }
  if (cluster) await cluster.stop();
  log('stopped');
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  const t0 = Date.now();

  if (external) log(`using the Temporal cluster at ${env.TEMPORAL_ADDRESS} (namespace ${env.TEMPORAL_NAMESPACE ?? 'default'}); no dev server started`);
  else if (profile === 'cluster') await useLocalCluster();
  else await startDevServer();

  const up = /^\{"ready":/m;
  const ready = [
    supervise('legacy-ecommerce', () => spawnTs('sim/main.ts', ['legacy-ecommerce', env.LEGACY_PORT ?? '4101'], env), up),
    supervise('payments', () => spawnTs('sim/main.ts', ['payments', env.PAYMENTS_PORT ?? '4102'], env), up),
    supervise('fulfilment', () => spawnTs('sim/main.ts', ['fulfilment', env.FULFILMENT_PORT ?? '4103'], env), up),
    ...workerGroups.map((queues, i) =>
      supervise(workerGroups.length > 1 ? `worker:${queues}` : 'worker', () => spawnTs('src/worker.ts', [], { ...env, WORKER_QUEUES: queues, METRICS_PORT: String(workerMetricsPort + i) }), up),
    ),
    supervise('api', () => spawnTs('src/api/server.ts', [], env), up),
  ];
  await Promise.all(ready);
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${apiPort}/readyz`)).ok, 60_000, 'the API to reach Temporal');
  const prometheus = await startPrometheus(workerGroups.map((_, i) => workerMetricsPort + i));
  const ui = external ? '(your cluster’s Web UI)' : `http://127.0.0.1:${uiPort}`;
  if (profile === 'cluster') log(`profile cluster: Temporal at ${env.TEMPORAL_ADDRESS} over mTLS (certificates in ${join(DATA_DIR, 'cluster', 'certs')})`);
  log(
    [
      `ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      `  API           http://127.0.0.1:${apiPort}   (GET /readyz)`,
      `  Temporal UI   ${ui}`,
      `  codec         http://127.0.0.1:${apiPort}/codec/session   (support sign-in: decoded payloads in the UI)`,
      `  simulators    ${env.LEGACY_URL}  ${env.PAYMENTS_URL}  ${env.FULFILMENT_URL}`,
      `  metrics       http://127.0.0.1:${apiPort}/metrics  ${workerGroups.map((_, i) => `http://127.0.0.1:${workerMetricsPort + i}/metrics`).join('  ')}`,
      `  Prometheus    ${prometheus ?? '(off)'}`,
      `  token         TOKEN=$(npm run --silent token -- alice)`,
      '  Ctrl-C stops everything.',
    ].join('\n'),
  );
}

main().catch((err) => {
  log(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
