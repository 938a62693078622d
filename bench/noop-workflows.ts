/**
 * Bench only: the engine's ceiling for a workflow of the order saga's shape whose steps do nothing.
 * Four sequential steps, either as local activities in the workflow's own task (the fast path's
 * shape) or as regular activities on four task queues (the queued shape). And the bare saga: the
 * direct chain's four calls as local activities, with nothing of the product around them (no keys of
 * its own, statuses, compensation, codec or interceptors): what durability alone costs those calls.
 * Registered only by the bench's workers (bench/worker-process.ts, bench/environment.ts), from
 * their own bundle; nothing in src/ knows it.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import { runChain, type ChainInput, type ChainSteps } from './chain-shape';

export interface NoopActivities {
  step(n: number): Promise<number>;
}

const local = proxyLocalActivities<NoopActivities>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } });

export async function noopSagaLocal(): Promise<number> {
  let n = 0;
  for (let i = 0; i < 4; i++) n = await local.step(n);
  return n;
}

/** `queues`: the four task queues, one per step, as the order saga has one per downstream. */
export async function noopSagaQueued(queues: string[]): Promise<number> {
  let n = 0;
  for (const taskQueue of queues) n = await proxyActivities<NoopActivities>({ taskQueue, startToCloseTimeout: '10s' }).step(n);
  return n;
}

const chain = proxyLocalActivities<ChainSteps>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } });

export async function bareSaga(input: ChainInput): Promise<void> {
  await runChain(chain, input);
}
