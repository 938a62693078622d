/**
 * Activity options per kind of step, and proxies that put each downstream's activities on that
 * downstream's task queue (next to the workflow's own queue prefix).
 */
import { proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { prefixOfOrdersQueue, taskQueues, type TransactionRequest } from '../contracts/transaction';

/**
 * Forward steps retry transient failures (5xx, timeouts, 429) for five minutes, then the saga
 * gives up and compensates: the budget is time, not a count of attempts, so a burst of quick
 * failures cannot use it up while the downstream is in fact back a second later (an open breaker
 * does not even cost an attempt: the activity waits for it, see activities/call-downstream.ts).
 * Business rejections are non-retryable at the source. The start-to-close timeout sits above the
 * clients' own HTTP timeouts so the client reports first; activities heartbeat while they wait,
 * so a crashed worker is noticed within the heartbeat timeout.
 */
export const FORWARD: ActivityOptions = {
  startToCloseTimeout: '30s',
  heartbeatTimeout: '5s',
  scheduleToCloseTimeout: '5m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};

/** Compensations and refunds retry generously: they are idempotent, and giving up leaves money or access wrong. */
export const COMPENSATION: ActivityOptions = {
  startToCloseTimeout: '30s',
  heartbeatTimeout: '5s',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
};

function proxies(options: ActivityOptions, queues: NonNullable<TransactionRequest['taskQueues']>) {
  return {
    legacyEcommerce: proxyActivities<Activities['legacyEcommerce']>({ ...options, taskQueue: queues.legacyEcommerce }),
    payments: proxyActivities<Activities['payments']>({ ...options, taskQueue: queues.payments }),
    fulfilment: proxyActivities<Activities['fulfilment']>({ ...options, taskQueue: queues.fulfilment }),
  };
}

/** Proxies on the queues the edge named in the input (older histories: next to the workflow's own queue). */
export function activityProxies(request: Pick<TransactionRequest, 'taskQueues'>) {
  const queues = request.taskQueues ?? taskQueues(prefixOfOrdersQueue(workflowInfo().taskQueue));
  return { forward: proxies(FORWARD, queues), compensation: proxies(COMPENSATION, queues) };
}
