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

test.each(fixtures)('%s replays without non-determinism', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  const results = Worker.runReplayHistories({ workflowBundle: { codePath: testEnv().bundlePath }, replayName: file, sinks: workerSinks({}) }, [{ workflowId: file, history }]);
  let replayed = 0;
  for await (const result of results) {
    expect(result.error).toBeUndefined();
    replayed += 1;
  }
  expect(replayed).toBe(1);
});
