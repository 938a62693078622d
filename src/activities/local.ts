/**
 * The forward steps as local activities: run inside the workflow worker, in the same workflow task
 * as the saga (the fast path: one task dispatch for the whole happy path instead of one per step).
 * Each downstream keeps its bulkhead in-process (cockatiel, sized like its task queue's worker): a
 * call that finds it full is not queued but refused as unavailable, and the saga runs that step as a
 * regular activity on the downstream's own queue, with its retry policy, rate limit and isolation.
 */
import { ApplicationFailure } from '@temporalio/common';
import { bulkhead, BulkheadRejectedError } from 'cockatiel';
import type { Activities } from './index';

export interface LocalLimits {
  legacyEcommerce: number;
  payments: number;
  fulfilment: number;
}

export function createLocalActivities(activities: Activities, limits: LocalLimits) {
  const guard = <A extends unknown[], R>(service: keyof LocalLimits, fn: (...args: A) => Promise<R>) => {
    const slots = bulkhead(limits[service], 0);
    return async (...args: A): Promise<R> => {
      try {
        return await slots.execute(() => fn(...args));
      } catch (err) {
        if (err instanceof BulkheadRejectedError) {
          throw ApplicationFailure.create({ type: 'DownstreamUnavailable', message: `${service}: every local slot is busy; running on its own queue`, nonRetryable: false });
        }
        throw err;
      }
    };
  };
  return {
    createOrder: guard('legacyEcommerce', activities.legacyEcommerce.createOrder),
    completeOrder: guard('legacyEcommerce', activities.legacyEcommerce.completeOrder),
    chargePayment: guard('payments', activities.payments.chargePayment),
    grantAccess: guard('fulfilment', activities.fulfilment.grantAccess),
  };
}

export type LocalActivities = ReturnType<typeof createLocalActivities>;
