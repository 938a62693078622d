/**
 * `npm run chaos -- [--seed N] [--duration S] [--faults N] [--customers N] [--workers N] [--settle S]`
 *
 * Drives the real system (dev server on a SQLite file, simulators, workers and the API, each its
 * own process) with concurrent customers while a seeded schedule injects `--faults` faults of every
 * kind over `--duration` seconds (support staff's repairs among them); then waits for quiescence,
 * has support decide every saga still parked, and checks the invariants from the
 * simulators' ledgers and Temporal's records (scripts/lib/chaos/checker.ts). Prints faults by kind,
 * transactions by outcome and every violation; exits 1 on any violation. Logs and the full
 * summary (summary.json) stay in .data/chaos/seed-<seed>/.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { DATA_DIR } from './lib/local';
import { check, type Verdict } from './lib/chaos/checker';
import { startCluster } from './lib/chaos/cluster';
import { newJournal, runCustomer } from './lib/chaos/customers';
import { FAULT_KINDS, runSchedule, schedule, type FaultCounts } from './lib/chaos/faults';
import { connect, readLedgers, readWorkflows, waitForQuiescence } from './lib/chaos/observe';
import { seeded } from './lib/chaos/random';
import { decideEveryParked, supportDesk } from './lib/chaos/support';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    duration: { type: 'string', default: '180' },
    faults: { type: 'string', default: '50' },
    customers: { type: 'string', default: '6' },
    workers: { type: 'string', default: '2' },
    settle: { type: 'string', default: '420' },
    kinds: { type: 'string', default: FAULT_KINDS.join(',') },
  },
});
const seed = args.seed !== undefined ? Number(args.seed) : Math.floor(Math.random() * 1_000_000);
const durationMs = Number(args.duration) * 1000;
const faultsPerKind = Number(args.faults);
const customers = Number(args.customers);
const settleMs = Number(args.settle) * 1000;
const kinds = args.kinds.split(',').filter(Boolean);
const command = `npm run chaos -- --seed ${seed} --duration ${args.duration} --faults ${faultsPerKind} --customers ${customers} --workers ${args.workers}${kinds.length < FAULT_KINDS.length ? ` --kinds ${kinds.join(',')}` : ''}`;

const tty = Boolean(process.stderr.isTTY);
const bar = new SingleBar({ format: ' {phase} |{bar}| {percentage}% | {detail}', hideCursor: true, clearOnComplete: true, noTTYOutput: false });
let lastLine = 0;
function progress(phase: string, fraction: number, detail: string): void {
  if (tty) return void bar.update(Math.round(fraction * 1000), { phase: phase.padEnd(10), detail });
  if (Date.now() - lastLine > 15_000) {
    lastLine = Date.now();
    process.stderr.write(`[chaos] ${phase} ${Math.round(fraction * 100)}% ${detail}\n`);
  }
}

async function main(): Promise<number> {
  const dir = join(DATA_DIR, 'chaos', `seed-${seed}`);
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`chaos: ${command}\n  logs and summary in ${dir}\n`);
  if (tty) bar.start(1000, 0, { phase: 'starting', detail: 'dev server, simulators, workers, API' });

  const cluster = await startCluster({
    dir,
    workers: Number(args.workers),
    env: { DOWNSTREAM_TIMEOUT_MS: '1000', PAYMENT_CONFIRMATION_TIMEOUT_S: '30', SYNC_WAIT_MAX_MS: '5000', SIM_WEBHOOK_RETRY_MS: '500', SIM_WEBHOOK_DELAY_MS: '300' },
  });
  const interrupted = () => void cluster.stop().then(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const random = seeded(seed);
    const journal = newJournal();
    const counts: FaultCounts = { byKind: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as FaultCounts['byKind'], bySubKind: {} };
    const startedAt = Date.now();
    const stopAt = startedAt + durationMs;
    const auth = { secret: cluster.env.JWT_SECRET!, issuer: 'saga-coordinator', audience: 'saga-coordinator' };
    const faultCount = () => Object.values(counts.byKind).reduce((a, b) => a + b, 0) + journal.done.dropAnswer + journal.done.duplicate + journal.done.keyReuse;
    const ticker = setInterval(() => progress('chaos', Math.min(1, (Date.now() - startedAt) / durationMs), `${journal.placed} orders, ${faultCount()} faults`), 500);

    const client = await connect(cluster);
    const desk = await supportDesk(cluster, client);
    const plan = schedule(random.fork(), durationMs, faultsPerKind, kinds);
    // Customers keep ordering until the duration is over, every scheduled fault is done and every
    // client-side fault has been taken by a request (a dense schedule makes the run longer, not thinner).
    let scheduleDone = false;
    const hardStop = stopAt + 2 * durationMs + 300_000;
    const pendingClientFaults = () => journal.pending.dropAnswer + journal.pending.duplicate + journal.pending.keyReuse > 0;
    const keepGoing = () => Date.now() < hardStop && (Date.now() < stopAt || !scheduleDone || pendingClientFaults());
    const customerRuns = Array.from({ length: customers }, (_, i) =>
      runCustomer(`chaos-${seed}-${i + 1}`, { apiUrl: cluster.apiUrl, auth, journal, random: random.fork(), keepGoing, giveUpAt: hardStop + settleMs }),
    );
    await runSchedule({ cluster, journal, random: random.fork(), counts, desk }, plan, startedAt, () => undefined);
    scheduleDone = true;
    while (keepGoing()) await new Promise((r) => setTimeout(r, 500));
    clearInterval(ticker);

    // Quiescence: no more faults, every process up, every customer done, every saga settled.
    await Promise.all(Object.values(cluster.simUrls).map((url) => fetch(`${url}/_sim/faults`, { method: 'DELETE' })));
    await cluster.allUp();
    const settleStart = Date.now();
    const settleTicker = setInterval(() => progress('settling', Math.min(1, (Date.now() - settleStart) / settleMs), 'customers finishing'), 500);
    await Promise.all(customerRuns);
    clearInterval(settleTicker);
    const quiet = () =>
      waitForQuiescence(client, settleStart + settleMs, (running) => progress('settling', Math.min(1, (Date.now() - settleStart) / settleMs), `${running < 0 ? '?' : running} transactions running`));
    // Support clears the queue of parked sagas (abort, or retry where an abort is refused), then all settles.
    const settlingDecisions = await decideEveryParked(desk, journal, settleStart + settleMs, async () => void (await quiet()));
    const stillRunning = await quiet();

    const { ledger, state } = await readLedgers(cluster);
    const workflows = await readWorkflows(client, cluster, (done, total) => progress('checking', done / total, `${done}/${total} histories`));
    await client.connection.close();
    const verdict = check({ ledger, state, workflows, requests: journal.requests, otherCalls: journal.otherCalls, forged: journal.forged, outcomeChangedAt: Object.fromEntries(journal.outcomeChangedAt) });
    if (tty) bar.stop();

    counts.byKind['lost-response'] += journal.done.dropAnswer;
    counts.byKind['caller-chaos'] += journal.done.duplicate + journal.done.keyReuse;
    counts.bySubKind['lost-response/client-drops-answer'] = journal.done.dropAnswer;
    counts.bySubKind['caller-chaos/same-key-retry'] = journal.done.duplicate;
    counts.bySubKind['caller-chaos/same-key-other-body'] = journal.done.keyReuse;
    const parked = workflows.filter((w) => w.status === 'RUNNING' && w.sagaStatus === 'needs_attention').map((w) => ({ workflowId: w.workflowId, failedStep: w.failedStep }));
    // What the customers were told about each transaction with a violation, to read next to the logs.
    const flagged = new Set(verdict.violations.map((v) => v.workflowId));
    const evidence = [...journal.requests, ...journal.otherCalls].filter((r) => flagged.has(r.workflowId));
    const summary = { command, seed, durationSeconds: Math.round((Date.now() - startedAt) / 1000), faults: counts, processStarts: cluster.starts(), orders: journal.placed, stillRunning, parked, supportTouched: journal.supportTouched.size, settlingDecisions, ...verdict, evidence };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
    print(summary);
    return verdict.violations.length > 0 ? 1 : 0;
  } finally {
    if (tty) bar.stop();
    await cluster.stop();
  }
}

function print(summary: { command: string; durationSeconds: number; faults: FaultCounts; orders: number; processStarts: Record<string, number>; parked: { workflowId: string; failedStep?: string }[]; supportTouched: number; settlingDecisions: number } & Verdict): void {
  const lines = [
    '',
    `chaos summary (${summary.command}; ${summary.durationSeconds} s)`,
    'faults injected, by kind:',
    ...FAULT_KINDS.map((k) => {
      const subs = Object.entries(summary.faults.bySubKind).filter(([s]) => s.startsWith(`${k}/`)).map(([s, n]) => `${s.slice(k.length + 1)} ${n}`);
      return `  ${k.padEnd(18)} ${String(summary.faults.byKind[k]).padStart(6)}   (${subs.join(', ')})`;
    }),
    `process starts: ${Object.entries(summary.processStarts).map(([r, n]) => `${r} ${n}`).join(', ')}`,
    `support acted on ${summary.supportTouched} transactions; clearing the queue at the end took ${summary.settlingDecisions} decisions`,
    `orders placed: ${summary.orders}; transactions by outcome:`,
    ...Object.entries(summary.outcomes).map(([o, n]) => `  ${o.padEnd(18)} ${String(n).padStart(6)}`),
    ...summary.parked.slice(0, 20).map((p) => `    parked: ${p.workflowId} at ${p.failedStep ?? '?'}`),
    `downstream effects: ${Object.entries(summary.effects).map(([e, n]) => `${e} ${n}`).join(', ')}`,
    `violations: ${summary.violations.length}`,
    ...summary.violations.slice(0, 50).map((v) => `  ${v.kind}  ${v.workflowId}  ${v.detail}`),
    ...(summary.violations.length > 50 ? [`  … and ${summary.violations.length - 50} more in summary.json`] : []),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().then(
  (code) => process.exit(code),
  (err) => {
    bar.stop();
    console.error(err);
    process.exit(2);
  },
);
