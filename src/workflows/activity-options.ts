/**
 * Activity options per kind of step, and proxies that put each downstream's activities on that
 * downstream's task queue (next to the workflow's own queue prefix).
 */
import { proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { prefixOfOrdersQueue, taskQueues } from '../contracts/transaction';

/**
 * Forward steps retry transient failures (5xx, timeouts, 429) for about two and a half minutes,
 * then the saga gives up and compensates; business rejections are non-retryable at the source.
 * The start-to-close timeout sits above the clients' own HTTP timeouts so the client reports first;
 * activities heartbeat while they wait, so a crashed worker is noticed within the heartbeat timeout.
 */
export const FORWARD: ActivityOptions = {
  startToCloseTimeout: '30s',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
};

/** Compensations and refunds retry generously: they are idempotent, and giving up leaves money or access wrong. */
export const COMPENSATION: ActivityOptions = {
  startToCloseTimeout: '30s',
  heartbeatTimeout: '5s',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
};

function proxies(options: ActivityOptions) {
  const queues = taskQueues(prefixOfOrdersQueue(workflowInfo().taskQueue));
  return {
    legacyEcommerce: proxyActivities<Activities['legacyEcommerce']>({ ...options, taskQueue: queues.legacyEcommerce }),
    payments: proxyActivities<Activities['payments']>({ ...options, taskQueue: queues.payments }),
    fulfilment: proxyActivities<Activities['fulfilment']>({ ...options, taskQueue: queues.fulfilment }),
  };
}

export function activityProxies() {
  return { forward: proxies(FORWARD), compensation: proxies(COMPENSATION) };
}
