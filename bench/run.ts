/**
 * `npm run bench`: starts its own system (bench/environment.ts), measures the sync order path every
 * way it can be built side by side in one run (bench/scenarios.ts), prints the figures and ratios,
 * writes them to docs/benchmarks.md, and stops everything. Bounded: N rounds and a global deadline.
 *
 * BENCH_N (rounds, default 20), BENCH_WARMUP (default 3), BENCH_BURST (orders per throughput burst,
 * default 200), BENCH_CONCURRENCY (default 20), BENCH_WORKER_PROCESSES (default `1,2,4`),
 * BENCH_BUDGET_N (sagas sampled for the latency budget, default 10), BENCH_MEMORY_ORDERS (default
 * 15000; the memory part stops early, and says so, when the deadline nears), BENCH_FAST=1 (a quick
 * run: 8 rounds, bursts of 60, 1 and 2 worker processes, 1,500 memory orders), BENCH_DEADLINE_S
 * (default 1200), BENCH_OBSERVABILITY (`off`: the
 * "metrics + tracing on" edge runs with them off, a control for the pairing; `metrics` or `tracing`:
 * only that one), BENCH_DEV_SERVER_ARGS (extra
 * `temporal server start-dev` arguments, space-separated, added after the flags `npm start` and the tests
 * use; e.g. `--dynamic-config-value history.transferProcessorMaxPollRPS=20` for the server's stock limit).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, release } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ROOT, TEMPORAL_CLI } from '../scripts/lib/local';
import { updateTopologySection } from './topologies';
import { SIM_NAMES, startEnvironment, type BenchEnvironment, type SimName } from './environment';
import { randomUUID } from 'node:crypto';
import { latencySpec, memorySpec, throughputSpec, writeCharts } from './charts';
import { SERIES, burst, measureMemory, measureThroughput, syncOrder, type MemoryPoint, type ThroughputRow } from './processes';
import { ROWS, createBench, latencyRules, shuffle, type Bench, type BudgetSample, type RowId } from './scenarios';
import { Samples, markdownTable, ms, ratio, summarize, type Summary } from './stats';

const fast = process.env.BENCH_FAST === '1';
const settings = {
  n: intFromEnv('BENCH_N', fast ? 8 : 20, 1),
  warmup: intFromEnv('BENCH_WARMUP', fast ? 2 : 3),
  burst: intFromEnv('BENCH_BURST', fast ? 60 : 200, 1),
  concurrency: intFromEnv('BENCH_CONCURRENCY', 20, 1),
  workerProcesses: (process.env.BENCH_WORKER_PROCESSES ?? (fast ? '1,2' : '1,2,4')).split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0),
  budgetN: intFromEnv('BENCH_BUDGET_N', 10, 1),
  memoryOrders: intFromEnv('BENCH_MEMORY_ORDERS', fast ? 1_500 : 15_000),
  deadlineMs: intFromEnv('BENCH_DEADLINE_S', 1200) * 1000,
  devServerArgs: (process.env.BENCH_DEV_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean),
};
/** Simulator latency per downstream call, in ms. */
const LATENCIES = [0, 20] as const;
const DOC = join(ROOT, 'docs', 'benchmarks.md');
const LOAD_AT_START = loadavg().map((v) => v.toFixed(2)).join(', ');

/** Median of each span over the samples, in the order of the first sample; the total is the median of the sums. */
function budgetTable(budgets: BudgetSample[]): string {
  const names: string[] = [];
  const values = new Map<string, number[]>();
  for (const sample of budgets) {
    for (const { name, ms: v } of sample) {
      if (!values.has(name)) {
        names.push(name);
        values.set(name, []);
      }
      values.get(name)!.push(v);
    }
  }
  const total = summarize(budgets.map((b) => b.reduce((sum, seg) => sum + seg.ms, 0)));
  return markdownTable(
    ['span', 'median ms', 'p99 ms', 'sagas'],
    [...names.map((n) => { const v = summarize(values.get(n)!); return [n, ms(v.p50), ms(v.p99), String(v.n)]; }), ['total (client: request → 201)', ms(total.p50), ms(total.p99), String(total.n)]],
  );
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

interface Burst {
  label: string;
  count: number;
  wallMs: number;
  latency: Summary;
  answered202: number;
}

interface Extra {
  budgets: { fast: BudgetSample[]; queued: BudgetSample[] };
  throughput: ThroughputRow[];
  memory: MemoryPoint[];
  charts: string[];
}

const CHART_LABELS = { direct: 'direct (no Temporal)', edgeSync: 'edge sync, fast path on', edgeSyncQueued: 'edge sync, fast path off' } as const;

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
    log(`latency budget: ${settings.budgetN} sagas each way at 0 ms`);
    const budgets = { fast: [] as BudgetSample[], queued: [] as BudgetSample[] };
    for (let i = 0; i < settings.budgetN; i++) {
      checkDeadline();
      for (const fastPath of shuffle([true, false])) (fastPath ? budgets.fast : budgets.queued).push(await bench.budgetSample(fastPath));
    }
    let answered202 = 0;
    const authorization = `Bearer ${await env.token('bench-burst')}`;
    const postVia = (api: BenchEnvironment['api']) => () => syncOrder(env, api, authorization, `burst-${randomUUID()}`, () => (answered202 += 1));
    const bursts: Burst[] = [];
    for (const [label, call] of [
      ['edge sync POST (in-process workers)', postVia(env.api)],
      ['edge sync POST, FAST_PATH=false', postVia(env.apiQueued)],
      ['direct: 4 downstream calls', () => bench.directOrder()],
    ] as const) {
      checkDeadline();
      answered202 = 0;
      const b = await burst(settings.burst, settings.concurrency, call);
      bursts.push({ label, count: settings.burst, answered202, ...b });
    }
    const context = { env, log, checkDeadline };
    log(`throughput with ${settings.workerProcesses.join(', ')} worker process(es)`);
    const throughput = await measureThroughput(context, { workerCounts: settings.workerProcesses, count: settings.burst, concurrency: settings.concurrency });
    log(`memory over ${settings.memoryOrders} orders`);
    const memory = settings.memoryOrders > 0 ? await measureMemory(context, { orders: settings.memoryOrders, concurrency: settings.concurrency, stopEarly: () => Date.now() > deadline - 30_000 }) : [];
    const charts = await writeCharts(join(ROOT, 'docs'), {
      'bench-latency': latencySpec(
        LATENCIES.flatMap((l) => (['direct', 'edgeSync', 'edgeSyncQueued'] as const).flatMap((row) => samples.raw(row, l).map((v) => ({ latency: `${l} ms`, scenario: CHART_LABELS[row], ms: v })))),
      ),
      'bench-throughput': throughputSpec(throughput.map((r) => ({ workers: r.workers, perSecond: r.perSecond, series: r.series, kind: r.series.startsWith('orders') ? 'orders' : r.series === SERIES.bareLocal ? 'bare saga' : 'no-op ceiling' }))),
      'bench-memory': memorySpec(memory.flatMap((p) => [{ orders: p.orders, MiB: p.workerMiB, process: 'worker' }, { orders: p.orders, MiB: p.apiMiB, process: 'API' }])),
    });
    log(`wrote ${charts.join(', ')}`);
    const report = renderReport(samples, bench, dispatch, bursts, { budgets, throughput, memory, charts }, startedAt);
    process.stdout.write(`\n${report.tables}\n`);
    writeFileSync(DOC, report.document);
    log(`wrote ${DOC}`);
  } finally {
    await env.stop();
    clearTimeout(watchdog);
  }
  // The cluster column (issue 14): each topology on a fresh environment, written into its own section.
  if (process.env.BENCH_CLUSTER !== '0') await updateTopologySection(DOC, settings, log, checkDeadline, gitDescribe());
}

/** BENCH_CLUSTER=only: the topology comparison alone; the rest of docs/benchmarks.md stays as its own run left it. */
async function topologiesOnly(): Promise<void> {
  const deadline = Date.now() + settings.deadlineMs;
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } }, shutdownSignals: [] });
  await updateTopologySection(DOC, settings, log, () => {
    if (Date.now() > deadline) throw new Error(`global deadline of ${settings.deadlineMs / 1000} s passed (BENCH_DEADLINE_S)`);
  }, gitDescribe());
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
    for (const scenario of shuffle(bench.scenarios)) await scenario.run(time, latencyMs);
  }
}

async function setLatency(env: BenchEnvironment, latencyMs: number): Promise<void> {
  await Promise.all((Object.keys(SIM_NAMES) as SimName[]).map((sim) => env.setFaults(sim, latencyRules(latencyMs))));
}

function renderReport(samples: Samples, bench: Bench, dispatch: Map<number, Summary>, bursts: Burst[], extra: Extra, startedAt: number): { tables: string; document: string } {
  const s = (row: RowId, latencyMs: number) => samples.summary(row, latencyMs);
  const at = (l: number) => `@${l}ms`;

  const latencyTable = markdownTable(
    ['scenario (ms per saga, sequential)', ...LATENCIES.flatMap((l) => [`p50 ${at(l)}`, `p99 ${at(l)}`, `mean ${at(l)}`])],
    (Object.keys(ROWS) as RowId[]).map((row) => [ROWS[row], ...LATENCIES.flatMap((l) => [ms(s(row, l)?.p50), ms(s(row, l)?.p99), ms(s(row, l)?.mean)])]),
  );

  const ratios: [string, RowId, RowId][] = [
    ['edge sync / direct', 'edgeSync', 'direct'],
    ['edge sync FAST_PATH=false / direct', 'edgeSyncQueued', 'direct'],
    ['edge sync, fast path on / off', 'edgeSync', 'edgeSyncQueued'],
    ['bare saga / direct', 'bare', 'direct'],
    ['SDK start + result (the product\'s saga) / bare saga', 'sdk', 'bare'],
    ['edge sync / SDK start + result', 'edgeSync', 'sdk'],
    ['edge sync, metrics + tracing on / off', 'edgeSyncObserved', 'edgeSync'],
    ['(c) eager start / (a)', 'mechC', 'mechA'],
    ['(c0) native, not eager / (a)', 'mechC0', 'mechA'],
    ['(c) eager / (c0) same connection, not eager', 'mechC', 'mechC0'],
    ['edge GET completed / SDK result()', 'getCompleted', 'resultCompleted'],
    ['edge GET running / SDK query', 'getRunning', 'queryRunning'],
    ['edge floor (no Temporal call) / SDK result()', 'edgeFloor', 'resultCompleted'],
    ['respond-async 202 / edge sync 201', 'edgeAsync', 'edgeSync'],
    ['webhook POST / SDK signal', 'webhookSignal', 'signalRunning'],
  ];
  const ratioTable = markdownTable(
    ['ratio', ...LATENCIES.flatMap((l) => [`p50 ${at(l)}`, `p99 ${at(l)}`, `mean ${at(l)}`])],
    ratios.map(([label, a, b]) => [label, ...LATENCIES.flatMap((l) => [ratio(s(a, l)?.p50, s(b, l)?.p50), ratio(s(a, l)?.p99, s(b, l)?.p99), ratio(s(a, l)?.mean, s(b, l)?.mean)])]),
  );

  const r = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b ? NaN : a / b);
  const verdict = (value: number, ok: (v: number) => boolean) => (Number.isNaN(value) ? '–' : ok(value) ? 'met' : 'not met');
  const x = (v: number) => (Number.isNaN(v) ? '–' : `${v.toFixed(2)}×`);
  const tp = (workers: number, series: string) => extra.throughput.find((t) => t.workers === workers && t.series === series);
  const workerCounts = [...new Set(extra.throughput.map((t) => t.workers))];
  const third = extra.memory.length ? Math.round(settings.memoryOrders / 3) : 0;
  // One RSS sample swings by tens of MiB with the garbage collector's timing: compare the mean of
  // the samples taken during the third `third` of the orders with that of the second.
  const meanOver = (which: 'workerMiB' | 'apiMiB', from: number, to: number) => {
    const v = extra.memory.filter((p) => p.orders > from && p.orders <= to).map((p) => p[which]);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const growth = (which: 'workerMiB' | 'apiMiB') => {
    if (!extra.memory.some((p) => p.orders >= 3 * third)) return undefined;
    const a = meanOver(which, third, 2 * third);
    const b = meanOver(which, 2 * third, 3 * third);
    return a === undefined || b === undefined ? undefined : b - a;
  };
  const targetRows: string[][] = [
    ...(['edgeSync', 'edgeSyncQueued'] as const).flatMap((row) => {
      const name = row === 'edgeSync' ? 'fast path on' : 'fast path off';
      const p50 = r(s(row, 20)?.p50, s('direct', 20)?.p50);
      const p99 = r(s(row, 20)?.p99, s('direct', 20)?.p99);
      // The bare saga (the same four calls as local activities, nothing else): what durability alone costs them.
      const floor = (q: 'p50' | 'p99') => (row === 'edgeSync' ? x(r(s('bare', 20)?.[q], s('direct', 20)?.[q])) : '–');
      return [
        [`sync POST / direct, p50 @20ms, ${name}`, '≤ 1.25×', x(p50), verdict(p50, (v) => v <= 1.25), floor('p50')],
        [`sync POST / direct, p99 @20ms, ${name}`, '≤ 1.6×', x(p99), verdict(p99, (v) => v <= 1.6), floor('p99')],
        [`sync POST / direct, p50 @0ms, ${name}`, 'state it', `${x(r(s(row, 0)?.p50, s('direct', 0)?.p50))} (${ms(s(row, 0)?.p50)} vs ${ms(s('direct', 0)?.p50)} ms)`, '–', row === 'edgeSync' ? x(r(s('bare', 0)?.p50, s('direct', 0)?.p50)) : '–'],
      ];
    }),
    ...workerCounts.flatMap((w) => {
      const fastRatio = r(tp(w, SERIES.ordersFast)?.perSecond, tp(w, SERIES.noopLocal)?.perSecond);
      // The bare saga against the same ceiling: the four real calls as local activities, nothing of ours, no edge.
      const bareRatio = r(tp(w, SERIES.bareLocal)?.perSecond, tp(w, SERIES.noopLocal)?.perSecond);
      const queuedRatio = r(tp(w, SERIES.ordersQueued)?.perSecond, tp(w, SERIES.noopQueued)?.perSecond);
      return [
        [`orders/s / no-op ceiling, ${w} worker process(es), fast path on`, '≥ 0.8×', `${x(fastRatio)} (${tp(w, SERIES.ordersFast)?.perSecond.toFixed(1)} vs ${tp(w, SERIES.noopLocal)?.perSecond.toFixed(1)}/s; SDK floor 35/s on 4 cores)`, verdict(fastRatio, (v) => v >= 0.8), x(bareRatio)],
        [`orders/s / no-op ceiling, ${w} worker process(es), fast path off`, '≥ 0.8×', `${x(queuedRatio)} (${tp(w, SERIES.ordersQueued)?.perSecond.toFixed(1)} vs ${tp(w, SERIES.noopQueued)?.perSecond.toFixed(1)}/s)`, verdict(queuedRatio, (v) => v >= 0.8), '–'],
      ];
    }),
    ...LATENCIES.flatMap((l) => {
      const running = r(s('getRunning', l)?.p50, s('queryRunning', l)?.p50);
      const completed = r(s('getCompleted', l)?.p50, s('resultCompleted', l)?.p50);
      // An edge that made exactly the bare call and nothing else: its own floor (HTTP, JWT, limits) plus that call.
      const floor = (bare: RowId) => x(r((s('edgeFloor', l)?.p50 ?? NaN) + (s(bare, l)?.p50 ?? NaN), s(bare, l)?.p50));
      return [
        [`GET running / bare query, p50 @${l}ms`, '≤ 1.5×', x(running), verdict(running, (v) => v <= 1.5), floor('queryRunning')],
        [`GET completed / bare result(), p50 @${l}ms`, '≤ 1.5×', x(completed), verdict(completed, (v) => v <= 1.5), floor('resultCompleted')],
      ];
    }),
    ...(['workerMiB', 'apiMiB'] as const).map((which) => {
      const g = growth(which);
      return [`RSS growth, ${which === 'workerMiB' ? 'worker' : 'API'}: mean over orders ${2 * third}–${3 * third} − mean over ${third}–${2 * third}`, '~0', g === undefined ? '– (not reached)' : `${g >= 0 ? '+' : ''}${g.toFixed(1)} MiB`, '–', '–'];
    }),
  ];
  const targetTable = markdownTable(['target', 'goal', 'measured', '', 'floor'], targetRows);

  const throughputTable = markdownTable(
    [`burst: ${settings.burst} sync calls, ${settings.concurrency} concurrent`, 'worker processes', 'completed/s', 'p50 ms', 'p99 ms', 'answered 202'],
    extra.throughput.map((t) => [t.series, String(t.workers), t.perSecond.toFixed(1), ms(t.latency.p50), ms(t.latency.p99), t.series.startsWith('orders') ? String(t.answered202) : '–']),
  );
  const cpuCell = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));
  const cpuTotal = (c: ThroughputRow['cpuMsPerSaga']) => (c.engine ?? 0) + c.api + c.workers + c.simulators + c.bench;
  const cpuTable = markdownTable(
    ['CPU ms per saga, by process', 'worker processes', 'engine', 'API', 'workers', 'simulators', 'bench (callers)', 'total', 'cores busy'],
    extra.throughput.map((t) => {
      const c = t.cpuMsPerSaga;
      return [t.series, String(t.workers), cpuCell(c.engine), t.series.startsWith('orders') ? cpuCell(c.api) : '–', cpuCell(c.workers), cpuCell(c.simulators), cpuCell(c.bench), cpuTotal(c).toFixed(1), ((cpuTotal(c) * t.perSecond) / 1000).toFixed(2)];
    }),
  );
  const memoryTable = markdownTable(
    ['orders completed', 'worker RSS MiB', 'API RSS MiB'],
    extra.memory.map((p) => [String(p.orders), p.workerMiB.toFixed(1), p.apiMiB.toFixed(1)]),
  );
  const budgetTables = (['fast', 'queued'] as const).map((which) => `${which === 'fast' ? 'Fast path on' : 'Fast path off (FAST_PATH=false)'}, median of ${extra.budgets[which].length} sagas:\n\n${budgetTable(extra.budgets[which])}`).join('\n\n');

  const paired = LATENCIES.map((l) => `${ratio(samples.pairedRatio('edgeSyncObserved', 'edgeSync', l), 1)} ${at(l)}`).join(', ');
  const pairedLine = `Metrics + tracing on / off, the median of the per-round ratios (each pair back to back): ${paired}.`;
  const burstTable = markdownTable(
    [`burst @0ms: ${settings.burst} calls, ${settings.concurrency} concurrent`, 'wall s', 'sagas/s', 'p50 ms', 'p99 ms', 'answered 202'],
    bursts.map((b) => [b.label, (b.wallMs / 1000).toFixed(2), (b.count / (b.wallMs / 1000)).toFixed(1), ms(b.latency.p50), ms(b.latency.p99), String(b.answered202)]),
  );

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

  // The unmet targets against their floors, in words, from this run's figures.
  const fastTp = tp(1, SERIES.ordersFast);
  const noopTp = tp(1, SERIES.noopLocal);
  const bareTp = tp(1, SERIES.bareLocal);
  const cpuOf = (t: ThroughputRow | undefined) => (t ? cpuTotal(t.cpuMsPerSaga) : NaN);
  const p50At20 = (row: RowId) => s(row, 20)?.p50 ?? NaN;
  const [direct20, bare20, sdk20, edge20] = [p50At20('direct'), p50At20('bare'), p50At20('sdk'), p50At20('edgeSync')];
  const syncGoal = 1.25 * direct20;
  const whyNotMet = [
    `- Sync p50 @20ms: the direct chain takes ${ms(direct20)} ms, so 1.25× is ${ms(syncGoal)} ms. Durability alone (the bare saga: the same four calls as ` +
      `local activities of a workflow with nothing else in it, started and awaited with the SDK) takes ${ms(bare20)} ms, ${x(r(bare20, direct20))}` +
      (bare20 > syncGoal
        ? `: above the goal before any of our code runs.`
        : `, which leaves ${ms(syncGoal - bare20)} ms for everything of ours.`) +
      ` Ours costs ${ms(edge20 - bare20)} ms: the product's saga ${ms(sdk20 - bare20)} ms over the bare one (the same start and result() with the SDK; ` +
      `its keys and statuses, the codec, the interceptors, the bigger first task) and the edge ${ms(edge20 - sdk20)} ms (HTTP, auth, validation, the held-events check).`,
    `- Throughput: an order costs ${cpuOf(fastTp).toFixed(1)} ms of CPU on this machine against ${cpuOf(noopTp).toFixed(1)} ms for a no-op saga (1 worker process); ` +
      `0.8× would need an order to cost ≤ ${(cpuOf(noopTp) / 0.8).toFixed(1)} ms in all. The bare saga (the same four calls, nothing of ours, no edge) costs ` +
      `${cpuOf(bareTp).toFixed(1)} ms and reaches ${x(r(bareTp?.perSecond, noopTp?.perSecond))} of the ceiling: the calls themselves (HTTP out of the worker, the ` +
      `simulators' ${(bareTp?.cpuMsPerSaga.simulators ?? NaN).toFixed(1)} ms) are the difference. On top of it an order adds the HTTP edge ` +
      `(${(fastTp?.cpuMsPerSaga.api ?? NaN).toFixed(1)} ms) and ${(cpuOf(fastTp) - cpuOf(bareTp) - (fastTp?.cpuMsPerSaga.api ?? NaN)).toFixed(1)} ms of the product's saga and its engine work.`,
    `- GET: the edge's floor alone (no Temporal call) is ${ms(s('edgeFloor', 0)?.p50)} ms @0ms against ${ms(s('resultCompleted', 0)?.p50)} ms for the bare \`result()\`: ` +
      `1.5× leaves ${ms((s('resultCompleted', 0)?.p50 ?? NaN) * 0.5)} ms for everything the edge does, HTTP included.`,
  ].join('\n');

  const tables = [targetTable, latencyTable, ratioTable, pairedLine, budgetTables, burstTable, throughputTable, cpuTable, memoryTable, findings].join('\n\n');
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
| OS | ${platform()} ${release()} ${arch()} |
| Node.js | ${process.version} |
| Temporal CLI | ${temporalVersion()} |
| commit | ${gitDescribe()} |
| extra dev server args | ${settings.devServerArgs.length ? `\`${settings.devServerArgs.join(' ')}\`` : 'none'} |

Everything runs on this one machine, on 127.0.0.1: an in-memory Temporal dev server (eager workflow
start enabled), the three simulators as processes, in-process workers and the API. Simulator latency
is added to every downstream call (four per order). Each scenario had ${settings.warmup} warm-up rounds, then
${settings.n} measured rounds, one call at a time; the scenarios run in a new random order each round. With
fewer than 100 samples, p99 is the maximum.

Load average when it started: ${LOAD_AT_START}; when it ended: ${loadavg().map((v) => v.toFixed(2)).join(', ')} (1, 5, 15 min). Above 2 on this
2-core machine, other work competed with every figure below.

## Targets (issue 11)

${targetTable}

**floor**: what this machine allows before any of our own work. Sync rows: the bare saga (the direct
chain's four calls as the local activities of a workflow with nothing else in it, started and awaited
with the SDK) against the direct chain, measured in the same rounds: what durability alone costs those calls.
GET rows: an edge that made the one bare call and nothing else, i.e. the edge's own floor (the
\`edge floor\` row: an authenticated GET answered without asking Temporal anything) plus that call.
Throughput rows: the bare saga's rate against the same no-op ceiling; every burst keeps both cores
busy, so these ratios are the inverse ratios of CPU per saga (the CPU table under Throughput).
${whyNotMet}

Charts (Vega-Lite, rendered to SVG by bench/charts.ts): ${extra.charts.map((c) => `[${c}](${c})`).join(', ')}.

![sync latency](bench-latency.svg)

## Latency

${latencyTable}

## Ratios

${ratioTable}

${pairedLine}

## Where the milliseconds go (0 ms simulator latency)

From each sampled saga's history: every gap between consecutive events (server timestamps), named
after the pair, plus the edge's part before the start and after the completion (client clock, same
machine). Local activities run inside a workflow task; their time is that task's run.

${budgetTables}

## Throughput

In-process workers (the latency part's), ${settings.burst} calls, ${settings.concurrency} concurrent, at 0 ms. A sync POST
the edge answered 202 (its sync wait ran out) is awaited to completion and counted in the time:

${burstTable}

Worker processes (bench/worker-process.ts: src/worker.ts's createWorkers with every queue, its
limits and data converter, one process each, plus the bench's workflows), API processes
(src/api/server.ts, one with FAST_PATH=true, one with false), at 0 ms. The no-op rows are the
engine's ceiling for the saga's shape: four steps that return at once, started and awaited with the
SDK. The bare saga makes the order's four downstream calls as local activities with nothing else
(no edge, keys, statuses or codec), started and awaited the same way. The TypeScript SDK's
stress-test floor is 35 workflows/s on 4 cores; this machine has 2.

${throughputTable}

![throughput](bench-throughput.svg)

Where each saga's CPU goes during those bursts (user + system time from /proc, per completed saga;
"cores busy" is the total times the rate: this machine has 2). The engine is the dev server; an
order's API time is the edge's (HTTP, auth, held-events check, start, result); the simulators are the four
downstream calls' other end, which the no-op rows do not have:

${cpuTable}

## Memory

One worker process and one API process, fresh, at rest (0) and after every ${settings.memoryOrders > 0 ? Math.round(settings.memoryOrders / 15) : 0} sync orders
(BENCH_MEMORY_ORDERS=${settings.memoryOrders}, ${settings.concurrency} concurrent). One sample
moves by tens of MiB with the garbage collector's timing, so the growth under Targets compares the
mean of the samples over the last third of the orders with the mean over the middle third.

${memoryTable}

![memory](bench-memory.svg)

## Findings

${findings}

## What the rows are

- **direct**: legacy createOrder → payments charge → fulfilment grant → legacy completeOrder with
  the project's clients (src/clients), each with its own Idempotency-Key: a synchronous proxy with
  no durability.
- **bare saga**: the same four calls, the very functions the direct path awaits (bench/chain.ts), as
  the local activities of a workflow with nothing else in it (bench/noop-workflows.ts: no keys of
  its own, statuses, compensations, codec or interceptors), started and awaited with the SDK: what
  durability alone costs these calls, the floor of the sync and throughput targets.
- **edge sync**: \`POST /v1/orders\` with a new Idempotency-Key, no \`Prefer\`, answered 201. The
  fast path is on (the default): the forward steps run as local activities in the saga's workflow task.
- **edge sync, FAST_PATH=false**: the same to a third API on the same workers whose saga input says
  \`fastPath: false\`: every step an activity on its downstream's queue, as before the fast path.
- **edge sync, metrics + tracing on**: the same, to a second API with workers of its own (same
  process, same dev server and simulators) that has Prometheus metrics and OpenTelemetry tracing
  on: every span batched and sent over OTLP/HTTP to a local sink, both \`/metrics\` scraped every
  5 s. The two alternate within each round; the process-wide hooks (async context, undici's
  diagnostics channel) are on for both.
- **SDK start + result**: \`client.workflow.start('orderSaga')\` and \`handle.result()\`, the same start
  request the edge sends, without Express and HTTP.
- **(a)** start, describe (memo check), long-poll result: the edge's round trips for a request
  whose workflow already exists (a retry); for a new one the edge checks for held webhook events
  before the start instead of describing after it (one round trip either way).
  **(c)** start with
  \`requestEagerStart\` on a Client over the orders worker's NativeConnection, then result; **(c0)**
  the same client without eager start, to separate the connection from the eager start.
- **respond-async**: \`POST\` with \`Prefer: respond-async\` until its 202 (the saga is then awaited untimed).
- **GET completed / running** against the bare SDK call the edge makes for it: \`result()\` of a
  closed saga, \`query(orderStatus)\` of one held in grantAccess (fault rule on that call only). The
  held saga runs with the fast path off: mid local activity a saga holds its workflow task, and a
  query waits until that task ends, so a held local step would measure the hold, not the read.
- **edge floor**: \`GET /v1/unknown\` with a valid token: every middleware a request meets (request
  ID, logging, helmet, rate limits, JWT) and a 404 problem, no call to Temporal: what any answer of
  the edge costs before it asks Temporal anything.
- **webhook POST**: a payment event signed as the provider signs it (\`Stripe-Signature\`), verified
  with the \`stripe\` library and signalled to a saga held in grantAccess, until the 200 the
  provider waits for; against the bare \`signal()\` it makes.

## Which mechanism the sync path uses

The edge uses (a)'s shape: start (conflict policy FAIL, reuse policy REJECT_DUPLICATE) — after a
query for webhook events held for the saga, handed over in its start — then the server's long poll
on the result; only when the workflow already exists does it describe it (the memo says whether
this request created the saga and whether its body matches the key). Measured side by side in earlier runs, update-with-start
with an early-return update was no faster (that update is gone: one mechanism decides "is this the
same request?", the memo), and (c) eager start saves one task dispatch (a few ms once the
dev server's poll limit is raised, ~45 ms under the stock limit) but requires the API process to
host the workflow worker on the same NativeConnection. (a) keeps the edge stateless and keeps
accepting commands while no worker runs.

## Reading the numbers

With the fast path off a saga is nine task dispatches (five workflow tasks, four activity tasks)
plus its four downstream calls, so per-dispatch cost dominates; with it on, the happy path is one
workflow task that runs the four calls as local activities (see the budget tables above). The dev server runs one history
shard whose transfer-queue reader is rate-limited by \`history.transferProcessorMaxPollRPS\` (server
default 20 per second): once its burst is spent, each dispatch waits for the next read, up to 50 ms,
and a saga takes ~450 ms whatever the downstreams do. \`npm start\`, the tests and this benchmark
raise it to 1000 (scripts/lib/dev-server.ts); the "task dispatch" figure under Findings shows what
was in force. To see the stock limit, run
\`BENCH_DEV_SERVER_ARGS='--dynamic-config-value history.transferProcessorMaxPollRPS=20' npm run bench\`.

The first workflow task of every saga also pays for the workflow bundle's modules: a worker's
reusable V8 context shares only the SDK's own modules and evaluates every other module again for
each workflow it starts. The workflows once imported constants from the contract modules, which
build zod schemas at load: 95 zod modules per saga, 2.6 MB of a 6.0 MB bundle, and (replaying the
fast-path fixture 100 times, production bundle) 31 ms of workflow-thread time per saga against
16 ms without them. The workflows now take their names and rules from the zod-free
\`src/contracts/*-protocol.ts\` and the schemas' types as types only; test/unit/replay.test.ts fails
if zod comes back. Likewise the OpenTelemetry workflow interceptors: a run is traced only when
its start carries a trace context (tracing on at the edge), and only then are their modules loaded
and spans made; before, every saga evaluated ~650 KB of tracing modules and made spans for a no-op
exporter (300 sequential sync orders at 0 ms, in process: p50 37.7–42.9 → 32.6–33.9 ms). What
remains per workflow is mostly the SDK's: its promise hook captures a source-mapped stack for every
promise a workflow creates (the Web UI's stack-trace view; ~1.8 ms per saga in a CPU profile), and
each activation's trip between the worker's main thread and its workflow thread.
`;
  return { tables, document };
}

function temporalVersion(): string {
  return execFileSync(TEMPORAL_CLI, ['--version'], { encoding: 'utf8' }).trim();
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

(process.env.BENCH_CLUSTER === 'only' ? topologiesOnly() : main())
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
