/**
 * `npm run bench`: starts its own system (bench/environment.ts), measures the sync order path every
 * way it can be built side by side in one run (bench/scenarios.ts), prints the figures and ratios,
 * writes them to docs/benchmarks.md, and stops everything. Bounded: N rounds and a global deadline.
 *
 * Then the same sync order path on three Temporal topologies, each on a fresh environment: the dev
 * server, the local cluster (scripts/lib/cluster: PostgreSQL, mTLS, 8 shards) with two history
 * processes, and with one; BENCH_CLUSTER=0 skips that part.
 *
 * BENCH_N (rounds, default 20), BENCH_WARMUP (default 3), BENCH_BURST (default 50),
 * BENCH_CONCURRENCY (default 10), BENCH_DEADLINE_S (default 600), BENCH_OBSERVABILITY (`off`: the
 * "metrics + tracing on" edge runs with them off, a control for the pairing; `metrics` or `tracing`:
 * only that one), BENCH_CLUSTER (default 1), BENCH_DEV_SERVER_ARGS (extra
 * `temporal server start-dev` arguments, space-separated, added after the flags `npm start` and the tests
 * use; e.g. `--dynamic-config-value history.transferProcessorMaxPollRPS=20` for the server's stock limit).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, release } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { clusterInstalled, startCluster } from '../scripts/lib/cluster';
import { PG_BIN } from '../scripts/lib/cluster/postgres';
import { TEMPORAL_SERVER } from '../scripts/lib/cluster/temporal';
import { DATA_DIR, ROOT, TEMPORAL_CLI } from '../scripts/lib/local';
import { SIM_NAMES, startEnvironment, type BenchEnvironment, type SimName } from './environment';
import { ROWS, check, createBench, latencyRules, type Bench, type RowId } from './scenarios';
import { Samples, markdownTable, ms, ratio, summarize, type Summary } from './stats';

const settings = {
  n: intFromEnv('BENCH_N', 20, 1),
  warmup: intFromEnv('BENCH_WARMUP', 3),
  burst: intFromEnv('BENCH_BURST', 50),
  concurrency: intFromEnv('BENCH_CONCURRENCY', 10),
  deadlineMs: intFromEnv('BENCH_DEADLINE_S', 600) * 1000,
  /** 1: the topology comparison after the rest; 0: not; `only`: only it, its section updated in place in docs/benchmarks.md. */
  cluster: process.env.BENCH_CLUSTER === 'only' ? ('only' as const) : intFromEnv('BENCH_CLUSTER', 1) === 1,
  devServerArgs: (process.env.BENCH_DEV_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean),
};
/** Simulator latency per downstream call, in ms. */
const LATENCIES = [0, 20] as const;
const DOC = join(ROOT, 'docs', 'benchmarks.md');

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const loadAtStart = loadavg()[0]!;

interface Burst {
  label: string;
  count: number;
  wallMs: number;
  latency: Summary;
}

interface Topology {
  label: string;
  /** Sequential edge sync POSTs, ms. */
  sequential: Summary;
  burst: Burst;
  /** Time until the topology answered (cluster: PostgreSQL, schema check, every service, namespace). */
  startMs: number;
}

const TOPOLOGIES = [
  { label: 'dev server: 1 process, 1 shard, SQLite in memory', historyProcesses: 0 },
  { label: 'cluster: 2 history processes, 8 shards, PostgreSQL, mTLS', historyProcesses: 2 },
  { label: 'cluster: 1 history process, 8 shards, PostgreSQL, mTLS', historyProcesses: 1 },
] as const;

/**
 * The sync order path (edge POST → 201) on each topology, each on a fresh environment and with no
 * added downstream latency: `settings.n` sequential calls after the warm-up, then one burst.
 */
async function compareTopologies(checkDeadline: () => void): Promise<Topology[]> {
  if (!clusterInstalled()) {
    log('the cluster is not installed (bash scripts/install-cluster.sh): no cluster column');
    return [];
  }
  const results: Topology[] = [];
  for (const topology of TOPOLOGIES) {
    checkDeadline();
    log(`topology: ${topology.label}`);
    const t0 = performance.now();
    // A new namespace per start: the database is kept in .data/bench/cluster between runs.
    const cluster = topology.historyProcesses
      ? await startCluster({ dir: join(DATA_DIR, 'bench', 'cluster'), historyProcesses: topology.historyProcesses, namespace: `bench-${Date.now().toString(36)}`, restartDelayMs: 0, log })
      : undefined;
    try {
      const env = await startEnvironment({ log, devServerArgs: settings.devServerArgs, temporalEnv: cluster?.env });
      const startMs = performance.now() - t0;
      try {
        const bench = await createBench(env, 'bench-topology');
        const sync = () => bench.postOrder().then((r) => check(r.status === 201 && r.body.status === 'completed', 'topology POST', r));
        for (let i = 0; i < settings.warmup; i++) await sync();
        const latencies: number[] = [];
        for (let i = 0; i < settings.n; i++) {
          const t = performance.now();
          await sync();
          latencies.push(performance.now() - t);
        }
        results.push({ label: topology.label, sequential: summarize(latencies), burst: await burst(topology.label, sync), startMs });
      } finally {
        await env.stop();
      }
    } finally {
      await cluster?.stop();
    }
  }
  return results;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const deadline = startedAt + settings.deadlineMs;
  const checkDeadline = () => {
    if (Date.now() > deadline) throw new Error(`global deadline of ${settings.deadlineMs / 1000} s passed (BENCH_DEADLINE_S); lower BENCH_N`);
  };
  // SDK and core chatter at ERROR only; signals are ours to handle (the runtime would only stop the workers).
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } }, shutdownSignals: [] });

  log(`settings ${JSON.stringify(settings)}; starting the environment`);
  const env = await startEnvironment({ log, devServerArgs: settings.devServerArgs });
  const abort = (why: string, code: number) => {
    log(`${why}: stopping everything`);
    const force = setTimeout(() => process.exit(code), 30_000);
    void env.stop().finally(() => {
      clearTimeout(force);
      process.exit(code);
    });
  };
  process.once('SIGINT', () => abort('SIGINT', 130));
  process.once('SIGTERM', () => abort('SIGTERM', 143));
  // Whatever hangs, nothing outlives the deadline by more than a minute.
  const watchdog = setTimeout(() => abort('watchdog: the deadline passed long ago', 2), settings.deadlineMs + 60_000 - (Date.now() - startedAt));

  try {
    const bench = await createBench(env, 'bench-customer');
    const samples = new Samples();
    const dispatch = new Map<number, Summary>();
    for (const latencyMs of LATENCIES) {
      await setLatency(env, latencyMs);
      await rounds(bench, latencyMs, settings.warmup, undefined, checkDeadline);
      await rounds(bench, latencyMs, settings.n, samples, checkDeadline);
      // Sampled right after the rounds, while the server is in the same state the measurements saw.
      dispatch.set(latencyMs, summarize(await bench.dispatchDelays()));
    }
    await setLatency(env, 0);
    const bursts = [
      await burst('edge sync POST → 201', () => bench.postOrder().then((r) => check(r.status === 201 && r.body.status === 'completed', 'burst POST', r))),
      await burst('direct: 4 downstream calls', () => bench.directOrder()),
    ];
    await env.stop();
    const topologies = settings.cluster ? await compareTopologies(checkDeadline) : [];
    const report = renderReport(samples, bench, dispatch, bursts, topologies, startedAt);
    process.stdout.write(`\n${report.tables}\n`);
    writeFileSync(DOC, report.document);
    log(`wrote ${DOC}`);
  } finally {
    await env.stop();
    clearTimeout(watchdog);
  }
}

/**
 * `count` rounds of every scenario, in a new random order each round: what a scenario leaves behind
 * (a rate limiter's spent or refilled tokens, a warm cache) must not always land on the same successor.
 */
async function rounds(bench: Bench, latencyMs: number, count: number, samples: Samples | undefined, checkDeadline: () => void): Promise<void> {
  const time = async <T>(row: RowId, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const value = await fn();
    samples?.add(row, latencyMs, performance.now() - t0);
    return value;
  };
  const what = samples ? 'measured' : 'warm-up';
  for (let round = 0; round < count; round++) {
    checkDeadline();
    if (round % 5 === 0) log(`latency ${latencyMs} ms: ${what} round ${round + 1}/${count}`);
    for (const scenario of shuffled(bench.scenarios)) await scenario.run(time, latencyMs);
  }
}

/** Fisher–Yates on a copy. */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** `settings.burst` calls, `settings.concurrency` at a time: throughput of the whole system on this machine. */
async function burst(label: string, call: () => Promise<void>): Promise<Burst> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < settings.burst) {
      next += 1;
      const t = performance.now();
      await call();
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: settings.concurrency }, lane));
  return { label, count: settings.burst, wallMs: performance.now() - t0, latency: summarize(latencies) };
}

async function setLatency(env: BenchEnvironment, latencyMs: number): Promise<void> {
  await Promise.all((Object.keys(SIM_NAMES) as SimName[]).map((sim) => env.setFaults(sim, latencyRules(latencyMs))));
}

function renderReport(samples: Samples, bench: Bench, dispatch: Map<number, Summary>, bursts: Burst[], topologies: Topology[], startedAt: number): { tables: string; document: string } {
  const s = (row: RowId, latencyMs: number) => samples.summary(row, latencyMs);
  const at = (l: number) => `@${l}ms`;

  const latencyTable = markdownTable(
    ['scenario (ms per saga, sequential)', ...LATENCIES.flatMap((l) => [`p50 ${at(l)}`, `p99 ${at(l)}`, `mean ${at(l)}`])],
    (Object.keys(ROWS) as RowId[]).map((row) => [ROWS[row], ...LATENCIES.flatMap((l) => [ms(s(row, l)?.p50), ms(s(row, l)?.p99), ms(s(row, l)?.mean)])]),
  );

  const ratios: [string, RowId, RowId][] = [
    ['edge sync / direct', 'edgeSync', 'direct'],
    ['edge sync / SDK start + result', 'edgeSync', 'sdk'],
    ['edge sync, metrics + tracing on / off', 'edgeSyncObserved', 'edgeSync'],
    ['(c) eager start / (a)', 'mechC', 'mechA'],
    ['(c0) native, not eager / (a)', 'mechC0', 'mechA'],
    ['(c) eager / (c0) same connection, not eager', 'mechC', 'mechC0'],
    ['edge GET completed / SDK result()', 'getCompleted', 'resultCompleted'],
    ['edge GET running / SDK query', 'getRunning', 'queryRunning'],
    ['respond-async 202 / edge sync 201', 'edgeAsync', 'edgeSync'],
    ['webhook POST / SDK signal', 'webhookSignal', 'signalRunning'],
  ];
  const ratioTable = markdownTable(
    ['ratio', ...LATENCIES.flatMap((l) => [`p50 ${at(l)}`, `mean ${at(l)}`])],
    ratios.map(([label, a, b]) => [label, ...LATENCIES.flatMap((l) => [ratio(s(a, l)?.p50, s(b, l)?.p50), ratio(s(a, l)?.mean, s(b, l)?.mean)])]),
  );

  const paired = LATENCIES.map((l) => `${ratio(samples.pairedRatio('edgeSyncObserved', 'edgeSync', l), 1)} ${at(l)}`).join(', ');
  const pairedLine = `Metrics + tracing on / off, the median of the per-round ratios (each pair back to back): ${paired}.`;
  const burstTable = markdownTable(
    [`burst @0ms: ${settings.burst} calls, ${settings.concurrency} concurrent`, 'wall s', 'sagas/s', 'p50 ms', 'p99 ms'],
    bursts.map((b) => [b.label, (b.wallMs / 1000).toFixed(2), (b.count / (b.wallMs / 1000)).toFixed(1), ms(b.latency.p50), ms(b.latency.p99)]),
  );

  const topologySection = renderTopologies(topologies);

  const findings = LATENCIES.map((l) => {
    const eager = bench.eager.get(l) ?? { requested: 0, started: 0 };
    const mechanisms = (['mechA', 'mechC'] as const).map((row) => ({ row, p50: s(row, l)?.p50 ?? NaN }));
    const fastest = mechanisms.reduce((best, m) => (m.p50 < best.p50 ? m : best));
    const a = mechanisms[0]!.p50;
    const d = dispatch.get(l);
    return (
      `- @${l}ms: fastest sync mechanism by p50 is ${ROWS[fastest.row]} at ${ms(fastest.p50)} ms vs ${ms(a)} ms for (a) ` +
      `(${(a - fastest.p50).toFixed(1)} ms less, ${ratio(fastest.p50, a)}). ` +
      `Eager start: the server answered ${eager.started} of ${eager.requested} eager requests (warm-up included) with an eager workflow task. ` +
      `Task dispatch (scheduled → handed to a worker) in a saga sampled after the rounds: mean ${ms(d?.mean)} ms, max ${ms(d?.p99)} ms over ${d?.n ?? 0} tasks.`
    );
  }).join('\n');

  const tables = [latencyTable, ratioTable, pairedLine, burstTable, topologySection, findings].join('\n\n');
  const command = `${Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_'))
    .map(([k, v = '']) => `${k}=${/[\s'"]/.test(v) ? `'${v}'` : v} `)
    .join('')}npm run bench`;
  const document = `# Benchmarks

Generated by \`${command}\` (bench/run.ts) on ${new Date(startedAt).toISOString()}, in ${((Date.now() - startedAt) / 1000).toFixed(0)} s.
Rerun it to refresh this file; it overwrites it.

| machine | |
|:--|:--|
| nproc | ${availableParallelism()} (${cpus()[0]?.model ?? 'unknown CPU'}) |
| load average (1 min) | ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (other work on the machine makes every figure slower and noisier) |
| OS | ${platform()} ${release()} ${arch()} |
| Node.js | ${process.version} |
| Temporal CLI | ${temporalVersion()} |
| cluster | ${clusterVersions()} |
| commit | ${gitDescribe()} |
| extra dev server args | ${settings.devServerArgs.length ? `\`${settings.devServerArgs.join(' ')}\`` : 'none'} |

Everything runs on this one machine, on 127.0.0.1: an in-memory Temporal dev server (eager workflow
start enabled), the three simulators as processes, in-process workers and the API. Simulator latency
is added to every downstream call (four per order). Each scenario had ${settings.warmup} warm-up rounds, then
${settings.n} measured rounds, one call at a time; the scenarios run in a new random order each round. With
fewer than 100 samples, p99 is the maximum.

## Latency

${latencyTable}

## Ratios

${ratioTable}

${pairedLine}

## Throughput

${burstTable}

## Cluster vs dev server

${topologySection}

## Findings

${findings}

## What the rows are

- **direct**: legacy createOrder → payments charge → fulfilment grant → legacy completeOrder with
  the project's clients (src/clients), each with its own Idempotency-Key: a synchronous proxy with
  no durability.
- **edge sync**: \`POST /v1/orders\` with a new Idempotency-Key, no \`Prefer\`, answered 201.
- **edge sync, metrics + tracing on**: the same, to a second API with workers of its own (same
  process, same dev server and simulators) that has Prometheus metrics and OpenTelemetry tracing
  on: every span batched and sent over OTLP/HTTP to a local sink, both \`/metrics\` scraped every
  5 s. The two alternate within each round; the process-wide hooks (async context, undici's
  diagnostics channel) are on for both.
- **SDK start + result**: \`client.workflow.start('orderSaga')\` and \`handle.result()\`, the same start
  request the edge sends, without Express and HTTP.
- **(a)** the edge's round trips today: start, describe (memo check), long-poll result.
  **(c)** start with
  \`requestEagerStart\` on a Client over the orders worker's NativeConnection, then result; **(c0)**
  the same client without eager start, to separate the connection from the eager start.
- **respond-async**: \`POST\` with \`Prefer: respond-async\` until its 202 (the saga is then awaited untimed).
- **GET completed / running** against the bare SDK call the edge makes for it: \`result()\` of a
  closed saga, \`query(orderStatus)\` of one held in grantAccess (fault rule on that call only).
- **webhook POST**: a payment event signed as the provider signs it (\`Stripe-Signature\`), verified
  with the \`stripe\` library and signalled to a saga held in grantAccess, until the 200 the
  provider waits for; against the bare \`signal()\` it makes.

## Which mechanism the sync path uses

The edge uses (a): start (conflict policy USE_EXISTING, reuse policy REJECT_DUPLICATE), describe
(the memo says whether this request created the saga and whether its body matches the key), then
the server's long poll on the result. Measured side by side in earlier runs, update-with-start
with an early-return update was no faster (that update is gone: one mechanism decides "is this the
same request?", the memo), and (c) eager start saves one task dispatch (a few ms once the
dev server's poll limit is raised, ~45 ms under the stock limit) but requires the API process to
host the workflow worker on the same NativeConnection. (a) keeps the edge stateless and keeps
accepting commands while no worker runs.

## Reading the numbers

A saga is nine task dispatches (five workflow tasks, four activity tasks) plus its four
downstream calls, so per-dispatch cost dominates the Temporal rows. The dev server runs one history
shard whose transfer-queue reader is rate-limited by \`history.transferProcessorMaxPollRPS\` (server
default 20 per second): once its burst is spent, each dispatch waits for the next read, up to 50 ms,
and a saga takes ~450 ms whatever the downstreams do. \`npm start\`, the tests and this benchmark
raise it to 1000 (scripts/lib/dev-server.ts); the "task dispatch" figure under Findings shows what
was in force. To see the stock limit, run
\`BENCH_DEV_SERVER_ARGS='--dynamic-config-value history.transferProcessorMaxPollRPS=20' npm run bench\`.
`;
  return { tables, document };
}

/** The "Cluster vs dev server" section's body: the tables and how they were made. */
function renderTopologies(topologies: Topology[]): string {
  const topologyTable = topologies.length
    ? markdownTable(
        ['edge sync POST → 201 @0ms, by Temporal topology', 'up in s', 'p50 ms', 'p99 ms', 'mean ms', `burst sagas/s (${settings.burst}, ${settings.concurrency} concurrent)`, 'burst p50 ms', 'burst p99 ms'],
        topologies.map((t) => [t.label, (t.startMs / 1000).toFixed(1), ms(t.sequential.p50), ms(t.sequential.p99), ms(t.sequential.mean), (t.burst.count / (t.burst.wallMs / 1000)).toFixed(1), ms(t.burst.latency.p50), ms(t.burst.latency.p99)]),
      )
    : '(not measured: BENCH_CLUSTER=0, or the cluster is not installed)';
  const byLabel = (n: number) => topologies.find((t) => t.label === TOPOLOGIES[n]!.label);
  const rate = (t?: Topology) => (t ? t.burst.count / (t.burst.wallMs / 1000) : NaN);
  const topologyRatios = topologies.length
    ? markdownTable(
        ['ratio', 'sequential p50', 'burst sagas/s'],
        [
          ['cluster (2 history) / dev server', ratio(byLabel(1)?.sequential.p50, byLabel(0)?.sequential.p50), ratio(rate(byLabel(1)), rate(byLabel(0)))],
          ['2 history processes / 1', ratio(byLabel(1)?.sequential.p50, byLabel(2)?.sequential.p50), ratio(rate(byLabel(1)), rate(byLabel(2)))],
        ],
      )
    : '';

  return `${topologyTable}

${topologyRatios}

Each topology on a fresh environment (the same API, workers and simulators), no added downstream
latency, ${settings.warmup} warm-up calls, ${settings.n} sequential calls, then the burst. The cluster is \`npm run cluster\`'s
(scripts/lib/cluster): frontend, matching, history and internal worker as separate processes on
PostgreSQL 15 (persistence and visibility, default settings: fsync on), clients over mTLS; "up in"
counts from nothing to a ready API, with the cluster's database and certificates already made.
Everything shares this machine's ${availableParallelism()} cores, so a second history process adds work and no cores: this
measures overhead, not scale-out.`;
}

/** BENCH_CLUSTER=only: measures the topologies alone and replaces that section of docs/benchmarks.md (or adds it before Findings). */
async function topologiesOnly(): Promise<void> {
  const startedAt = Date.now();
  const deadline = startedAt + settings.deadlineMs;
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } }, shutdownSignals: [] });
  const topologies = await compareTopologies(() => {
    if (Date.now() > deadline) throw new Error(`global deadline of ${settings.deadlineMs / 1000} s passed (BENCH_DEADLINE_S)`);
  });
  const section = `## Cluster vs dev server

Measured by \`BENCH_CLUSTER=only npm run bench\` on ${new Date(startedAt).toISOString()} at ${gitDescribe()} (${clusterVersions()}),
load average ${loadAtStart.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end; the rest of this file comes from its own run.

${renderTopologies(topologies)}

`;
  const doc = readFileSync(DOC, 'utf8');
  const at = /^## Cluster vs dev server\n[\s\S]*?(?=^## )/m;
  const updated = at.test(doc) ? doc.replace(at, section) : doc.replace(/^## Findings$/m, `${section}## Findings`);
  writeFileSync(DOC, updated);
  process.stdout.write(section);
  log(`updated the cluster section of ${DOC}`);
}

function temporalVersion(): string {
  return execFileSync(TEMPORAL_CLI, ['--version'], { encoding: 'utf8' }).trim();
}

function clusterVersions(): string {
  if (!clusterInstalled()) return 'not installed';
  const server = execFileSync(TEMPORAL_SERVER, ['--version'], { encoding: 'utf8' }).trim();
  const postgres = execFileSync(join(PG_BIN, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  return `${server}; ${postgres}`;
}

function gitDescribe(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function intFromEnv(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

(settings.cluster === 'only' ? topologiesOnly() : main())
  .catch((err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => {
    // Everything is closed by now; should some handle still hold the event loop, do not wait on it.
    setTimeout(() => {
      log('a handle kept the process alive after teardown; exiting anyway');
      process.exit();
    }, 10_000).unref();
  });
