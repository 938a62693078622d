/**
 * The short chaos run, as part of every test run: `npm run chaos` with a fixed seed, at least 50
 * faults of every kind against the real system as processes — support staff's decisions, replays,
 * CLI resets and Cancels among them — then support clears the queue of parked sagas, and the
 * ledger invariants are checked for every transaction. It
 * starts its own dev server, simulators, workers and API on free ports (see docs/reliability.md).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR, ROOT } from '../../scripts/lib/local';
import { FAULT_KINDS } from '../../scripts/lib/chaos/faults';
import type { Verdict } from '../../scripts/lib/chaos/checker';

const SEED = 20261128;

test('under at least 50 faults of every kind, nothing is lost, doubled or out of step', async () => {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'chaos.ts'), '--seed', String(SEED), '--duration', '240', '--faults', '50', '--settle', '300'], {
    cwd: ROOT,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) console.log(output.slice(-8000)); // the summary with every violation

  const summary = JSON.parse(readFileSync(join(DATA_DIR, 'chaos', `seed-${SEED}`, 'summary.json'), 'utf8')) as Verdict & { faults: { byKind: Record<string, number> }; orders: number };
  expect({ code, violations: summary.violations }).toEqual({ code: 0, violations: [] });
  for (const kind of FAULT_KINDS) expect({ kind, injected: summary.faults.byKind[kind]! >= 50 }).toEqual({ kind, injected: true });
  expect(summary.outcomes.completed + summary.outcomes.refunded).toBeGreaterThan(0);
  expect(summary.outcomes.compensated).toBeGreaterThan(0);
  expect(summary.outcomes.stuck).toBe(0);
  // Support can always clear the queue: abort, or retry where an abort is refused.
  expect(summary.outcomes.parked).toBe(0);
}, 20 * 60_000);
