/**
 * The benchmark's multi-process part: real worker processes (bench/worker-process.ts: the
 * product's createWorkers plus the no-op workflows of the same shape) and API processes
 * (src/api/server.ts), on a task-queue prefix of their own so the in-process workers of the
 * latency part take none of their work.
 *
 * - Throughput: with 1, 2 and 4 worker processes, a burst of sync orders through an API with the
 *   fast path on and one with it off, and the no-op workflow of each shape started and awaited
 *   with the SDK: the engine's own ceiling on this machine, measured in the same run.
 * - Memory: RSS of one worker process and one API process at rest and after every `memoryOrders / 3`.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import { freePort } from '../test/support/ports';
import { firstJsonLine, stopProcess } from '../scripts/lib/processes';
import type { BenchEnvironment } from './environment';
import { chainInput } from './chain';
import { bareQueue, noopQueues } from './noop-queues';
import type { bareSaga } from './noop-workflows';
import { ORDER, check } from './scenarios';
import { summarize, type Summary } from './stats';

const PREFIX = 'bench-tp/';
const ORDER_JSON = JSON.stringify(ORDER);

export interface ThroughputRow {
  workers: number;
  /** orders (fast path on), orders (fast path off), no-op local, no-op queued */
  series: string;
  count: number;
  wallMs: number;
  perSecond: number;
  latency: Summary;
  /** Sync POSTs the edge answered 202 (its sync wait, SYNC_WAIT_MAX_MS, ran out); awaited to completion, counted in the time. */
  answered202: number;
  /** CPU time (user + system) per saga, by process, over the burst: where an order's cost goes. */
  cpuMsPerSaga: CpuShare;
}

/** engine: the dev server; api: the API process (orders only); workers: the worker processes; simulators: the three; bench: this process (the callers, and the SDK client for the no-op rows). */
export interface CpuShare {
  engine?: number;
  api: number;
  workers: number;
  simulators: number;
  bench: number;
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ: what /proc/<pid>/stat counts in on Linux

/** utime + stime of a process, in ms (0 once it is gone). */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** Snapshots the CPU time of every part; the returned function gives each part's share per saga since. */
function cpuMeter(env: BenchEnvironment, api: ChildProcess | undefined, workers: ChildProcess[]): (sagas: number) => CpuShare {
  const read = () => ({
    engine: cpuMsOf(env.pids.devServer),
    api: cpuMsOf(api?.pid),
    workers: workers.reduce((sum, w) => sum + cpuMsOf(w.pid), 0),
    simulators: env.pids.simulators.reduce((sum, pid) => sum + cpuMsOf(pid), 0),
    bench: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  });
  const before = read();
  return (sagas) => {
    const after = read();
    const per = (k: keyof typeof before) => (after[k] - before[k]) / sagas;
    return { ...(env.pids.devServer !== undefined ? { engine: per('engine') } : {}), api: per('api'), workers: per('workers'), simulators: per('simulators'), bench: per('bench') };
  };
}

export interface MemoryPoint {
  orders: number;
  workerMiB: number;
  apiMiB: number;
}

export const SERIES = {
  ordersFast: 'orders, fast path on',
  ordersQueued: 'orders, fast path off',
  noopLocal: 'no-op saga, 4 local activities',
  noopQueued: 'no-op saga, 4 activities on 4 queues',
  bareLocal: 'bare saga: the 4 calls as local activities, nothing else',
} as const;

interface Options {
  env: BenchEnvironment;
  log: (message: string) => void;
  checkDeadline: () => void;
}

async function startApi(env: BenchEnvironment, fastPath: boolean): Promise<{ child: ChildProcess; pool: Pool }> {
  const port = await freePort();
  const child = env.spawn('src/api/server.ts', { TASK_QUEUE_PREFIX: PREFIX, PORT: String(port), HOST: '127.0.0.1', FAST_PATH: String(fastPath), OTEL_EXPORTER_OTLP_ENDPOINT: '' });
  const ready = await firstJsonLine(child, (v): v is { url: string } => (v as { ready?: unknown })?.ready === 'api', 60_000);
  return { child, pool: new Pool(ready.url, { connections: 32 }) };
}

async function startWorkers(env: BenchEnvironment, count: number): Promise<ChildProcess[]> {
  const children = Array.from({ length: count }, () =>
    env.spawn('bench/worker-process.ts', { TASK_QUEUE_PREFIX: PREFIX, BENCH_BUNDLE: env.bundles.product, BENCH_NOOP_BUNDLE: env.bundles.noop, OTEL_EXPORTER_OTLP_ENDPOINT: '' }),
  );
  await Promise.all(children.map((c) => firstJsonLine(c, (v): v is object => (v as { ready?: unknown })?.ready === 'bench-worker', 120_000)));
  return children;
}

/**
 * A sync POST of an order until the saga completed: a 201, or a 202 when the edge's sync wait ran
 * out (then its result is awaited with the SDK, and `on202` counts it).
 */
export async function syncOrder(env: BenchEnvironment, pool: Pool, authorization: string, key: string, on202: () => void): Promise<void> {
  const res = await pool.request({ method: 'POST', path: '/v1/orders', headers: { authorization, 'content-type': 'application/json', 'idempotency-key': key }, body: ORDER_JSON });
  const body = (await res.body.json()) as { status?: string; transactionId?: string };
  if (res.statusCode === 202 && body.transactionId) {
    on202();
    const result = (await env.client.workflow.getHandle(body.transactionId).result()) as { status?: string };
    check(result.status === 'completed', 'sync POST answered 202, then', result);
    return;
  }
  check(res.statusCode === 201 && body.status === 'completed', 'sync POST', { status: res.statusCode, body });
}

/** `count` calls, `concurrency` at a time. */
export async function burst(count: number, concurrency: number, call: () => Promise<void>): Promise<{ wallMs: number; latency: Summary }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < count) {
      next += 1;
      const t = performance.now();
      await call();
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { wallMs: performance.now() - t0, latency: summarize(latencies) };
}

export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

export async function measureThroughput(
  { env, log, checkDeadline }: Options,
  { workerCounts, count, concurrency }: { workerCounts: number[]; count: number; concurrency: number },
): Promise<ThroughputRow[]> {
  const authorization = `Bearer ${await env.token('bench-throughput')}`;
  const apis = { fast: await startApi(env, true), queued: await startApi(env, false) };
  const queues = noopQueues(PREFIX);
  const rows: ThroughputRow[] = [];
  try {
    for (const workers of workerCounts) {
      checkDeadline();
      const children = await startWorkers(env, workers);
      try {
        let answered202 = 0;
        const order = (pool: Pool) => () => syncOrder(env, pool, authorization, `tp-${randomUUID()}`, () => (answered202 += 1));
        const noop = (workflow: 'noopSagaLocal' | 'noopSagaQueued') => async () => {
          const n = await env.client.workflow.execute(workflow, { taskQueue: queues.workflows, workflowId: `noop-${randomUUID()}`, args: workflow === 'noopSagaQueued' ? [queues.steps] : [] });
          check(n === 4, workflow, n);
        };
        const bare = async () => {
          const reference = `bare-tp:${randomUUID()}`;
          await env.client.workflow.execute<typeof bareSaga>('bareSaga', { taskQueue: bareQueue(PREFIX), workflowId: reference, args: [chainInput(ORDER, 'bench-tp', reference)] });
        };
        const calls: [string, () => Promise<void>, ChildProcess | undefined][] = [
          [SERIES.ordersFast, order(apis.fast.pool), apis.fast.child],
          [SERIES.noopLocal, noop('noopSagaLocal'), undefined],
          [SERIES.bareLocal, bare, undefined],
          [SERIES.ordersQueued, order(apis.queued.pool), apis.queued.child],
          [SERIES.noopQueued, noop('noopSagaQueued'), undefined],
        ];
        // A short warm-up of each (caches, connections, V8), then the measured bursts.
        for (const [, call] of calls) await burst(concurrency, concurrency, call);
        for (const [series, call, api] of calls) {
          checkDeadline();
          answered202 = 0;
          const cpu = cpuMeter(env, api, children);
          const b = await burst(count, concurrency, call);
          const row = { workers, series, count, wallMs: b.wallMs, perSecond: count / (b.wallMs / 1000), latency: b.latency, answered202, cpuMsPerSaga: cpu(count) };
          log(`throughput, ${workers} worker process(es): ${series}: ${row.perSecond.toFixed(1)}/s (p50 ${b.latency.p50.toFixed(0)} ms)`);
          rows.push(row);
        }
      } finally {
        await Promise.all(children.map((c) => stopProcess(c, 10_000)));
      }
    }
  } finally {
    await Promise.all(Object.values(apis).map(async ({ child, pool }) => (await pool.close(), await stopProcess(child, 10_000))));
  }
  return rows;
}

/**
 * Fresh processes (one worker, one API with the fast path on), RSS at rest, then `orders` sync
 * orders `concurrency` at a time, RSS after every fifteenth of them (so at each third).
 */
export async function measureMemory({ env, log }: Options, { orders, concurrency, stopEarly }: { orders: number; concurrency: number; stopEarly: () => boolean }): Promise<MemoryPoint[]> {
  const authorization = `Bearer ${await env.token('bench-memory')}`;
  const api = await startApi(env, true);
  const [worker] = await startWorkers(env, 1);
  const points: MemoryPoint[] = [];
  const sample = (done: number) => points.push({ orders: done, workerMiB: rssMiB(worker!.pid!), apiMiB: rssMiB(api.child.pid!) });
  try {
    await new Promise((r) => setTimeout(r, 2_000));
    sample(0);
    const step = Math.max(1, Math.round(orders / 15));
    for (let done = 0; done < orders; ) {
      if (stopEarly()) {
        log(`memory: stopped at ${done} of ${orders} orders, the deadline is near`);
        break;
      }
      const n = Math.min(step, orders - done);
      await burst(n, concurrency, () => syncOrder(env, api.pool, authorization, `mem-${randomUUID()}`, () => undefined));
      done += n;
      sample(done);
      log(`memory: ${done}/${orders} orders; worker ${points.at(-1)!.workerMiB.toFixed(0)} MiB, API ${points.at(-1)!.apiMiB.toFixed(0)} MiB`);
    }
  } finally {
    await api.pool.close();
    await Promise.all([stopProcess(api.child, 10_000), stopProcess(worker!, 10_000)]);
  }
  return points;
}
