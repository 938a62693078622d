/**
 * Activity options per kind of step, and proxies that put each downstream's activities on that
 * downstream's task queue (next to the workflow's own queue prefix).
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, proxyActivities, proxyLocalActivities, workflowInfo, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { LocalActivities } from '../activities/local';
import type { TransactionRequest } from '../contracts/transaction';
import { prefixOfOrdersQueue, taskQueues } from '../contracts/transaction-protocol';

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

/**
 * The fast path: one try of a forward step as a local activity, in the saga's own workflow task.
 * Its timeout sits above the clients' HTTP timeouts; it is never retried locally: a retryable
 * failure hands the step to its downstream's queue (see `fastOrQueued`).
 */
export const LOCAL_TRY: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
};

/**
 * Runs a forward step on the fast path, and on a retryable failure (unavailable, timed out, local
 * bulkhead full) as a regular activity on its downstream's queue: same arguments, so the same
 * downstream key, and the queue's retry policy, rate limit and isolation from there on. A definite
 * answer (a refusal, an undone attempt, our credentials refused) is the step's answer either way.
 */
export function fastOrQueued<A extends unknown[], R>(local: ((...args: A) => Promise<R>) | undefined, queued: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  if (!local) return queued;
  return async (...args: A) => {
    try {
      return await local(...args);
    } catch (err) {
      if (!isRetryableLocally(err)) throw err;
      return queued(...args);
    }
  };
}

/** A local activity's failure arrives as the activity's own failure (or wrapped in ActivityFailure). */
function isRetryableLocally(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof TimeoutFailure) return true;
  return cause instanceof ApplicationFailure && !cause.nonRetryable;
}

/** The local twins of the forward steps (registered on the workflow worker, guarded by per-downstream bulkheads). */
export function localProxies(): LocalActivities {
  return proxyLocalActivities<LocalActivities>(LOCAL_TRY);
}

/** Proxies on the queues the edge named in the input (older histories: next to the workflow's own queue). */
export function activityProxies(request: Pick<TransactionRequest, 'taskQueues'>) {
  const queues = request.taskQueues ?? taskQueues(prefixOfOrdersQueue(workflowInfo().taskQueue));
  return { forward: proxies(FORWARD, queues), compensation: proxies(COMPENSATION, queues) };
}
