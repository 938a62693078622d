/**
 * Replay as a test: every history in test/histories/ (recorded from real runs with
 * `npm run histories:record`, or exported from any cluster with `npm run export-history`) must
 * replay against today's workflow code. A change that breaks one needs `patched()`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { ROOT } from '../../scripts/lib/local';
import { orderWorkflowId } from '../../src/contracts/order';
import { refundWorkflowId } from '../../src/contracts/refund';
import { workerSinks } from '../../src/temporal/interceptors';
import { testEnv } from '../support/env';

const dir = join(ROOT, 'test', 'histories');
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('there are fixtures for every way a saga ends', () => {
  expect(fixtures.sort()).toEqual(
    expect.arrayContaining([
      'order-completed.json',
      'order-declined-compensated.json',
      'order-paid-by-webhook.json',
      'order-parked-then-aborted.json',
      'refund-completed.json',
      // Support-safety paths (recorded by RECORD_HISTORIES=1 npx jest test/integration/support.test.ts)
      'order-grant-retried-after-refusal.json',
      'order-replayed-after-compensation.json',
      'order-cli-reset-after-compensation.json',
      // The fast path (forward steps as local activities)
      'order-fast-path-completed.json',
    ]),
  );
});

// A worker evaluates the bundle's modules again for every workflow it starts (reuseV8Context shares
// only the SDK's own), so each module the workflows pull in costs every saga's first workflow task:
// zod alone was 95 modules, ~15 ms per saga and 2.6 MB of the bundle. Workflows take contract types
// as types only and their values from the zod-free contracts/*-protocol.ts modules.
test('the workflow bundle carries no validation library (zod)', () => {
  const code = readFileSync(testEnv().bundlePath, 'utf8');
  expect(code).toContain('./src/workflows/order.ts');
  expect(code.match(/node_modules\/zod\/[^ *]*/g) ?? []).toEqual([]);
});

/**
 * The workflow ID the history ran under: a saga's reference is its workflow ID, and events and
 * stored answers are matched against it, so a replay under another ID takes other branches.
 */
function workflowIdOf(history: ReturnType<typeof historyFromJSON>, file: string): string {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const data = started?.input?.payloads?.[0]?.data;
  const input = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { customerId?: string; idempotencyKey?: string; orderKey?: string }) : {};
  if (started?.workflowType?.name === 'orderSaga' && input.customerId && input.idempotencyKey) return orderWorkflowId(input.customerId, input.idempotencyKey);
  if (started?.workflowType?.name === 'refundSaga' && input.customerId && input.orderKey) return refundWorkflowId(input.customerId, input.orderKey);
  return file;
}

test.each(fixtures)('%s replays without non-determinism', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  const results = Worker.runReplayHistories({ workflowBundle: { codePath: testEnv().bundlePath }, replayName: file, sinks: workerSinks({}) }, [{ workflowId: workflowIdOf(history, file), history }]);
  let replayed = 0;
  for await (const result of results) {
    expect(result.error).toBeUndefined();
    replayed += 1;
  }
  expect(replayed).toBe(1);
});
