/** Activities against the legacy ecommerce orders API (task queue `legacy-ecommerce`). */
import { Context, sleep } from '@temporalio/activity';
import type { LegacyEcommerceClient } from '../clients/legacy-ecommerce';
import { DownstreamRejected } from '../clients/errors';
import { attemptUndone, callDownstream, lookAfterAnswer } from './call-downstream';

export interface CreateOrderInput {
  reference: string;
  idempotencyKey: string;
  requestId: string;
  region?: string;
  customerId: string;
  currency: string;
  lines: { sku: string; quantity: number; unitPriceMinor: number }[];
  /** A run a Temporal reset made: the attempt's order is looked up by reference first (see createOrder). */
  lookFirst?: boolean;
}

export function createLegacyEcommerceActivities({ legacy }: { legacy: LegacyEcommerceClient }) {
  /**
   * Reconciles a replayed answer: the order under this attempt's reference must not have been
   * cancelled (the attempt was compensated: a reset of it places the order again). `completedBefore`:
   * the order was completed (and maybe refunded since, or being refunded: the refund saga marks it
   * last) — the attempt finished, so whatever was undone since was the customer's refund, not the
   * saga's compensation: a reset adopts it as it stands and places nothing again.
   */
  async function reconcile(reference: string, ctx: { requestId: string; region?: string }): Promise<{ completedBefore: boolean }> {
    const now = await legacy.findByReference(reference, ctx);
    if (now?.status === 'cancelled') throw attemptUndone('legacy-ecommerce', reference, `order ${now.orderNumber} is ${now.status}`);
    return { completedBefore: now?.status === 'completed' || now?.status === 'refunded' };
  }

  return {
    /** `completedBefore`: a reset found this attempt's order completed (refunded since, or not); the saga adopts what stands. */
    async createOrder(input: CreateOrderInput): Promise<{ orderNumber: string; totalMinor: number; completedBefore?: true }> {
      const ctx = { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region };
      const order = await callDownstream(
        () => 'OrderRejected',
        async () => {
          // A run a Temporal reset made: the attempt's order, found by reference, is the answer (its key may be forgotten).
          // A look refused is retried like an outage, never the order's refusal (see lookAfterAnswer).
          const found = input.lookFirst ? await lookAfterAnswer(() => legacy.findByReference(input.reference, ctx)) : undefined;
          if (found) return { orderNumber: found.orderNumber, totalMinor: found.totalMinor, ...(await lookAfterAnswer(() => reconcile(input.reference, ctx))) };
          const created = await legacy.createOrder(input, ctx);
          // A stored answer describes the order as it was then: was it cancelled or refunded since?
          return created.replayed ? { ...created, ...(await lookAfterAnswer(() => reconcile(input.reference, ctx))) } : { ...created, completedBefore: false };
        },
      );
      return { orderNumber: order.orderNumber, totalMinor: order.totalMinor, ...(order.completedBefore ? { completedBefore: true as const } : {}) };
    },

    /** `completedBefore`: a reset of an attempt whose order completed: a refusal stored under this key was settled by an operator then (a retry under a later epoch, or a skip): the order as it stands is adopted. */
    async completeOrder(input: { reference?: string; orderNumber: string; idempotencyKey: string; requestId: string; region?: string; completedBefore?: boolean }): Promise<{ status: string }> {
      const ctx = { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region };
      const order = await callDownstream(
        () => 'OrderRejected',
        async () => {
          const completed = await legacy.completeOrder(input.orderNumber, ctx).catch(async (err: unknown) => {
            if (!(err instanceof DownstreamRejected) || !input.completedBefore || !input.reference) throw err;
            const now = await legacy.findByReference(input.reference, ctx);
            if (!now) throw err;
            return { status: now.status, replayed: false };
          });
          if (completed.replayed && input.reference) await lookAfterAnswer(() => reconcile(input.reference!, ctx));
          return completed;
        },
      );
      return { status: order.status };
    },

    /** Read only: the attempt's order still stands (not cancelled since), before an operator's decision moves the saga on. */
    async checkOrder(input: { reference: string; requestId: string; region?: string }): Promise<{ completedBefore: boolean }> {
      return callDownstream(
        () => 'CheckRejected',
        () => reconcile(input.reference, input),
      );
    },

    /** Refund saga: marks the order refunded; found by the order's reference, so a retry after a lost answer is a no-op. */
    async markOrderRefunded(input: { reference: string; idempotencyKey: string; requestId: string; region?: string }): Promise<{ outcome: 'refunded' | 'already_refunded' }> {
      return callDownstream(
        () => 'OrderRejected',
        async () => {
          const order = await lookAfterAnswer(() => legacy.findByReference(input.reference, { requestId: input.requestId, region: input.region }));
          if (!order) throw new DownstreamRejected('legacy-ecommerce', 404, 'ORDER_NOT_FOUND', `no legacy order for ${input.reference}`);
          if (order.status === 'refunded') return { outcome: 'already_refunded' as const };
          await legacy.markRefunded(order.orderNumber, { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region });
          return { outcome: 'refunded' as const };
        },
      );
    },

    /**
     * Compensation for createOrder. Registered before the order exists, so it finds the order by our
     * reference first: nothing there means nothing to undo, and a cancelled order stays cancelled.
     * `mayHaveBeenSent`: this cancel may have been sent before under its key by another activity (an
     * operator's retry, a late look, a run a Temporal reset made during the undo), so even a first
     * try waits for it as a retry does.
     */
    async cancelOrder(input: { reference: string; idempotencyKey: string; requestId: string; region?: string; mayHaveBeenSent?: boolean }): Promise<{ outcome: 'cancelled' | 'already_cancelled' | 'not_found' }> {
      return callDownstream(
        () => 'CompensationRejected',
        async () => {
          const ctx = { requestId: input.requestId, region: input.region };
          let order = await lookAfterAnswer(() => legacy.findByReference(input.reference, ctx));
          const { attempt, startToCloseTimeoutMs } = Context.current().info;
          if (order && order.status !== 'cancelled' && (attempt > 1 || input.mayHaveBeenSent)) {
            // A retry: an earlier try's cancel may have gone unanswered and still be on its way, and a
            // legacy service may not deduplicate cancels by key. Give it twice the time we wait for an
            // answer to land, and look again, rather than send a second cancel behind the first (within
            // this try's own time: what is left must still hold the look and the cancel, an answer each).
            // Sent by another activity, at a time this one cannot know: one timeout more (its wait for an answer).
            const timeout = legacy.http.answerTimeoutMs;
            const wait = (attempt > 1 ? 2 : 3) * timeout;
            await sleep(Math.max(0, Math.min(wait, startToCloseTimeoutMs - 4 * timeout)));
            order = await lookAfterAnswer(() => legacy.findByReference(input.reference, ctx));
          }
          if (!order) return { outcome: 'not_found' as const };
          if (order.status === 'cancelled') return { outcome: 'already_cancelled' as const };
          await legacy.cancelOrder(order.orderNumber, { idempotencyKey: input.idempotencyKey, ...ctx });
          return { outcome: 'cancelled' as const };
        },
      );
    },
  };
}
