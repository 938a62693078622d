/**
 * A real multi-service Temporal cluster on this machine, owned by the project under one directory
 * (`.data/cluster` for `npm run cluster` and `npm start`, `.data/test/cluster` for the tests):
 * PostgreSQL for persistence and visibility, frontend (mTLS only), matching, N history processes
 * and the internal worker as separate processes sharing 8 history shards, and the Web UI.
 * The first start makes the certificates, the database and the namespace; later starts reuse them.
 * A Temporal process that dies is restarted (as an orchestrator would), after `restartDelayMs`.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { loadConfig } from '../../../src/config';
import { connectionOptions } from '../../../src/temporal/connection';
import { registerSearchAttributes } from '../../../src/temporal/search-attributes';
import { freePortIn } from '../ports';
import { pollFor, stopProcess } from '../processes';
import { CLIENTS, FRONTEND_SERVER_NAME, ensureCerts } from './certs';
import { forgetMembers, initPostgres, pgPassword, startPostgres } from './postgres';
import { TEMPORAL_SERVER, TEMPORAL_SQL_TOOL, TEMPORAL_UI_SERVER, render, setupSchemas, spawnService, spawnUi, writeConfig, type ServiceName } from './temporal';

export { FRONTEND_SERVER_NAME };

/** Fixed for the life of a database: Temporal cannot change a cluster's shard count. */
export const NUM_HISTORY_SHARDS = 8;
const NAMESPACE_RETENTION_S = 24 * 3600; // as the dev server's default namespace

export interface ClusterOptions {
  /** Where the database, certificates, configs and logs live. */
  dir: string;
  /** History processes (default 2). */
  historyProcesses?: number;
  /** The frontend's gRPC port (default: a free one). */
  frontendPort?: number;
  /** The Web UI's port; no UI when absent. */
  uiPort?: number;
  /** Where the UI sends payloads to decode (our API's codec endpoint). */
  codecEndpoint?: string;
  namespace?: string;
  /** Restart a Temporal process that dies, after this long (default 2 s); 0: never. */
  restartDelayMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  log?: (message: string) => void;
}

export interface ClusterProcess {
  name: string;
  service: ServiceName | 'postgres' | 'ui';
  child: ChildProcess;
  restarts: number;
}

export interface Cluster {
  /** TEMPORAL_* settings for our API and workers (src/config.ts): address, namespace, mTLS files. */
  env: Record<string, string>;
  address: string;
  namespace: string;
  uiUrl?: string;
  /** Every process by name (`postgres`, `frontend`, `matching`, `history-1`, …, `worker`, `ui`); the current child after a restart. */
  processes: Map<string, ClusterProcess>;
  historyShards: number;
  stop(): Promise<void>;
}

/** `<dir>/cluster.json` while a cluster runs: how to reach it, and its processes' current PIDs. */
export interface ClusterState {
  env: Record<string, string>;
  uiUrl?: string;
  historyShards: number;
  historyProcesses: number;
  logs: string;
  pids: Record<string, number>;
}

/** The state of the cluster running from `dir`, if one is (its frontend process is alive). */
export function runningCluster(dir: string): ClusterState | undefined {
  try {
    const state = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as ClusterState;
    process.kill(state.pids.frontend!, 0);
    return state;
  } catch {
    return undefined;
  }
}

/** True when the binaries the cluster needs are installed (scripts/install-cluster.sh). */
export function clusterInstalled(): boolean {
  return [TEMPORAL_SERVER, TEMPORAL_SQL_TOOL, TEMPORAL_UI_SERVER].every(existsSync);
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number, what: string, timeoutMs = 60_000): Promise<void> {
  return pollFor(
    () =>
      new Promise<true>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', reject);
      }),
    timeoutMs,
    what,
    100,
  ).then(() => undefined);
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const log = options.log ?? (() => {});
  const { dir } = options;
  const namespace = options.namespace ?? 'default';
  const historyCount = options.historyProcesses ?? 2;
  const restartDelayMs = options.restartDelayMs ?? 2_000;
  if (!clusterInstalled()) throw new Error('the cluster binaries are missing: run `bash scripts/install-cluster.sh` (npm run cluster does)');
  const certs = join(dir, 'certs');
  const logs = join(dir, 'logs');
  const conf = join(dir, 'conf');
  for (const d of [dir, logs, conf]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

  const made = ensureCerts(certs);
  log(made.length ? `certificates: made ${made.join(', ')} (openssl, CA in ${certs})` : 'certificates: reusing');

  const stateFile = join(dir, 'cluster.json');
  const processes = new Map<string, ClusterProcess>();
  let stopping = false;
  // Until the cluster is ready a process that exits fails the start-up (no restarts), with its log's tail.
  let ready = false;
  let failStartup!: (err: Error) => void;
  const startupFailed = new Promise<never>((_, reject) => (failStartup = reject));
  startupFailed.catch(() => {});
  const step = <T>(promise: Promise<T>) => Promise.race([promise, startupFailed]);
  const stop = async () => {
    stopping = true;
    rmSync(stateFile, { force: true });
    const order = [...processes.values()].reverse(); // the UI and Temporal first, PostgreSQL last
    for (const p of order.filter((p) => p.service !== 'postgres')) p.child.removeAllListeners('exit');
    // One at a time, callers before callees (UI, worker, frontend, matching, history): stopped together,
    // some wait for the others until killed, and a killed history process lingers in the next start's ring.
    for (const p of order.filter((p) => p.service !== 'postgres')) await stopProcess(p.child, 10_000);
    const pg = processes.get('postgres');
    if (pg) await stopProcess(pg.child, 30_000, 'SIGINT'); // PostgreSQL's "fast" shutdown: SIGTERM would wait for clients
  };
  const logFile = (name: string) => join(logs, `${name}.log`);
  let state: Omit<ClusterState, 'pids'> | undefined;
  /** Rewritten on every (re)start of a process, so other processes (tests) see the current PIDs. */
  const writeState = () => {
    if (!state) return;
    const pids = Object.fromEntries([...processes.values()].map((p) => [p.name, p.child.pid ?? 0]));
    writeFileSync(stateFile, JSON.stringify({ ...state, pids } satisfies ClusterState, null, 2), { mode: 0o600 });
  };
  /** Starts a process with its output appended to logs/<name>.log; restarts it when it dies unless we are stopping. */
  const launch = (name: string, service: ClusterProcess['service'], start: (fd: number) => ChildProcess): ClusterProcess => {
    const fd = openSync(logFile(name), 'a');
    const child = start(fd);
    closeSync(fd); // the child has its own copy
    const entry: ClusterProcess = processes.get(name) ?? { name, service, child, restarts: 0 };
    entry.child = child;
    processes.set(name, entry);
    child.once('exit', (code, signal) => {
      if (stopping || service === 'postgres') return;
      if (!ready) return failStartup(new Error(`${name} exited during start-up (${signal ?? `exit ${code}`})\n--- ${logFile(name)} (tail) ---\n${tail(logFile(name))}`));
      log(`!!! ${name} exited (${signal ?? `exit ${code}`}); see ${logFile(name)}${restartDelayMs ? `; restarting in ${restartDelayMs} ms` : ''}`);
      if (!restartDelayMs) return;
      setTimeout(() => {
        if (stopping) return;
        entry.restarts += 1;
        launch(name, service, start);
        log(`${name} restarted (pid ${entry.child.pid}, restart #${entry.restarts})`);
        writeState();
      }, restartDelayMs);
    });
    return entry;
  };

  try {
    // PostgreSQL: initdb once, then start on a free port.
    const password = pgPassword(dir);
    if (initPostgres(dir)) log(`postgres: initialised a new database cluster in ${join(dir, 'pg')}`);
    // Every port the cluster listens on is picked below the kernel's ephemeral range (32768 and up):
    // a port picked there can be taken by any outgoing connection's source port before its service
    // binds it (a history service then failed to start, an fx error). Picked once each.
    const picked = new Set<number>();
    const pick = async (min: number, max: number): Promise<number> => {
      for (;;) {
        const candidate = await freePortIn(min, max);
        if (!picked.has(candidate)) return picked.add(candidate), candidate;
      }
    };
    const pgPort = await pick(10_000, 19_999);
    const fd = openSync(logFile('postgres'), 'a');
    const pgChild = await startPostgres(dir, pgPort, fd).finally(() => closeSync(fd));
    processes.set('postgres', { name: 'postgres', service: 'postgres', child: pgChild, restarts: 0 });
    pgChild.once('exit', (code, signal) => {
      if (!stopping) log(`!!! postgres exited (${signal ?? `exit ${code}`}); the cluster cannot work without it. See ${logFile('postgres')}`);
    });
    log(`postgres: up on 127.0.0.1:${pgPort} (${since()})`);
    await setupSchemas(pgPort, password);
    forgetMembers(pgPort, password);
    log(`schema: temporal + temporal_visibility at the server's version (${since()})`);

    // One config per process: they differ only in the ports their own service listens on.
    const port = () => pick(10_000, 19_999);
    // Membership ports are kept in a PostgreSQL smallint column: they must be below 32768.
    const membershipPort = () => pick(20_000, 32_767);
    const frontendPort = options.frontendPort ?? (await port());
    const shared = {
      LOG_LEVEL: options.logLevel ?? 'warn',
      NUM_HISTORY_SHARDS,
      PG_PORT: pgPort,
      PG_PASSWORD: password,
      CERTS: certs,
      SERVER_NAME: FRONTEND_SERVER_NAME,
      DYNAMIC_CONFIG: join(conf, 'dynamicconfig.yaml'),
      FRONTEND_PORT: frontendPort,
      FRONTEND_HTTP_PORT: await port(),
      FRONTEND_MEMBERSHIP_PORT: await membershipPort(),
      MATCHING_PORT: await port(),
      MATCHING_MEMBERSHIP_PORT: await membershipPort(),
      WORKER_PORT: await port(),
      WORKER_MEMBERSHIP_PORT: await membershipPort(),
    };
    writeFileSync(shared.DYNAMIC_CONFIG, render('dynamicconfig.yaml', {}));
    const startService = async (name: string, service: ServiceName, grpcPort: number, values: Record<string, string | number>) => {
      const file = join(conf, `${name}.yaml`);
      writeConfig(file, { ...shared, HISTORY_PORT: 0, HISTORY_MEMBERSHIP_PORT: 0, ...values });
      launch(name, service, (fd) => spawnService(service, file, fd));
      await step(listening(grpcPort, `${name} on 127.0.0.1:${grpcPort} (log: ${logFile(name)})`));
    };
    // History first: it owns the shards, and the first process to start writes the cluster metadata.
    const histories = await Promise.all(Array.from({ length: historyCount }, async () => ({ grpc: await port(), membership: await membershipPort() })));
    // History logs at info at least: its "Acquired shard" lines show where shards go (test/cluster/history-failover.test.ts).
    const history = (h: { grpc: number; membership: number }) => ({ HISTORY_PORT: h.grpc, HISTORY_MEMBERSHIP_PORT: h.membership, LOG_LEVEL: options.logLevel === 'debug' ? 'debug' : 'info' });
    await startService('history-1', 'history', histories[0]!.grpc, history(histories[0]!));
    await Promise.all([
      ...histories.slice(1).map((h, i) => startService(`history-${i + 2}`, 'history', h.grpc, history(h))),
      startService('matching', 'matching', shared.MATCHING_PORT, {}),
      startService('frontend', 'frontend', frontendPort, {}),
    ]);
    log(`temporal: frontend, matching, ${historyCount} history processes listening (${since()})`);

    // Through the frontend, over mTLS, exactly as our API and workers connect.
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: `127.0.0.1:${frontendPort}`,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TLS_CA_PATH: join(certs, 'ca.pem'),
      TEMPORAL_TLS_CERT_PATH: join(certs, `${CLIENTS[0]}.pem`),
      TEMPORAL_TLS_KEY_PATH: join(certs, `${CLIENTS[0]}.key`),
      TEMPORAL_TLS_SERVER_NAME: FRONTEND_SERVER_NAME,
    };
    const connection = await step(pollFor(() => Connection.connect({ ...connectionOptions(loadConfig(env)), connectTimeout: 2_000 }), 60_000, 'the frontend over mTLS'));
    let historyShards = 0;
    try {
      const info = await step(pollFor(() => connection.workflowService.getClusterInfo({}), 60_000, 'the cluster info'));
      historyShards = info.historyShardCount ?? 0;
      await step(ensureNamespace(connection, namespace, log));
      // Every service's namespace cache must know a new namespace first (system.namespaceCacheRefreshInterval).
      await step(pollFor(() => registerSearchAttributes(connection, namespace).then(() => true), 60_000, `the namespace ${namespace} in every service`, 500));
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      log(`namespace ${namespace}: search attributes ${Object.keys(customAttributes ?? {}).sort().join(', ')} (${since()})`);
      // A history process of an earlier start (other ports) stays in the ring until membership drops it:
      // ready means every shard has a live owner.
      await step(pollFor(() => everyShardServes(connection, namespace), 120_000, 'every history shard to have a live owner', 250));
      log(`history: every shard answers (${since()})`);
    } finally {
      await connection.close();
    }
    // The internal worker (system workflows) needs the frontend; it starts last.
    await startService('worker', 'worker', shared.WORKER_PORT, {});

    let uiUrl: string | undefined;
    if (options.uiPort) {
      const uiDir = join(dir, 'ui', 'config');
      mkdirSync(uiDir, { recursive: true });
      writeFileSync(
        join(uiDir, 'cluster.yaml'),
        render('ui.yaml', { FRONTEND_PORT: frontendPort, UI_PORT: options.uiPort, NAMESPACE: namespace, CERTS: certs, SERVER_NAME: FRONTEND_SERVER_NAME, CODEC_ENDPOINT: options.codecEndpoint ?? '' }),
        { mode: 0o600 },
      );
      launch('ui', 'ui', (fd) => spawnUi(join(dir, 'ui'), fd));
      await step(listening(options.uiPort, `the Web UI on 127.0.0.1:${options.uiPort}`));
      uiUrl = `http://127.0.0.1:${options.uiPort}`;
    }
    ready = true;
    state = { env, uiUrl, historyShards, historyProcesses: historyCount, logs };
    writeState();
    log(`ready in ${since()}: ${env.TEMPORAL_ADDRESS} (mTLS), ${historyShards} history shards on ${historyCount} history processes${uiUrl ? `, Web UI ${uiUrl}` : ''}; logs in ${logs}`);
    return { env, address: env.TEMPORAL_ADDRESS!, namespace, uiUrl, processes, historyShards, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * True when a lookup of a random workflow ID is answered "not found" by its shard, for 128 random IDs
 * (all 8 shards are hit with probability > 1 - 1e-7); a shard without a live owner fails or times out.
 */
export async function everyShardServes(connection: Pick<Connection, 'withDeadline' | 'workflowService'>, namespace: string): Promise<true | undefined> {
  const NOT_FOUND = 5;
  const answers = await Promise.all(
    Array.from({ length: 128 }, () =>
      connection.withDeadline(Date.now() + 3_000, () =>
        connection.workflowService.describeWorkflowExecution({ namespace, execution: { workflowId: `shard-probe-${randomUUID()}` } }).then(
          () => true,
          (err: { code?: number }) => err.code === NOT_FOUND,
        ),
      ),
    ),
  );
  return answers.every(Boolean) ? true : undefined;
}

/** Registers the namespace once (the server creates only its own `temporal-system`), then waits until every service knows it. */
async function ensureNamespace(connection: Connection, namespace: string, log: (m: string) => void): Promise<void> {
  const NOT_FOUND = 5;
  const ALREADY_EXISTS = 6;
  const exists = await connection.workflowService.describeNamespace({ namespace }).then(
    () => true,
    (err: { code?: number }) => {
      if (err.code === NOT_FOUND) return false;
      throw err;
    },
  );
  if (exists) return;
  await connection.workflowService
    .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(NAMESPACE_RETENTION_S * 1000) })
    .catch((err: { code?: number }) => {
      if (err.code !== ALREADY_EXISTS) throw err;
    });
  log(`namespace ${namespace}: registered (retention ${NAMESPACE_RETENTION_S / 3600} h)`);
}
