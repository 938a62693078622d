/** Activities against the legacy ecommerce orders API (task queue `legacy-ecommerce`). */
import type { LegacyEcommerceClient } from '../clients/legacy-ecommerce';
import { DownstreamRejected } from '../clients/errors';
import { attemptUndone, callDownstream } from './call-downstream';

export interface CreateOrderInput {
  reference: string;
  idempotencyKey: string;
  requestId: string;
  region?: string;
  customerId: string;
  currency: string;
  lines: { sku: string; quantity: number; unitPriceMinor: number }[];
}

export function createLegacyEcommerceActivities({ legacy }: { legacy: LegacyEcommerceClient }) {
  /** Reconciles a replayed answer: the order under this attempt's reference must not be cancelled or refunded. */
  async function notUndone(reference: string, ctx: { requestId: string; region?: string }): Promise<void> {
    const now = await legacy.findByReference(reference, ctx);
    if (now?.status === 'cancelled' || now?.status === 'refunded') throw attemptUndone('legacy-ecommerce', reference, `order ${now.orderNumber} is ${now.status}`);
  }

  return {
    async createOrder(input: CreateOrderInput): Promise<{ orderNumber: string; totalMinor: number }> {
      const ctx = { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region };
      const order = await callDownstream(
        () => 'OrderRejected',
        async () => {
          const created = await legacy.createOrder(input, ctx);
          // A stored answer describes the order as it was then: check it was not cancelled or refunded since.
          if (created.replayed) await notUndone(input.reference, ctx);
          return created;
        },
      );
      return { orderNumber: order.orderNumber, totalMinor: order.totalMinor };
    },

    async completeOrder(input: { reference?: string; orderNumber: string; idempotencyKey: string; requestId: string; region?: string }): Promise<{ status: string }> {
      const ctx = { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region };
      const order = await callDownstream(
        () => 'OrderRejected',
        async () => {
          const completed = await legacy.completeOrder(input.orderNumber, ctx);
          if (completed.replayed && input.reference) await notUndone(input.reference, ctx);
          return completed;
        },
      );
      return { status: order.status };
    },

    /** Refund saga: marks the order refunded; found by the order's reference, so a retry after a lost answer is a no-op. */
    async markOrderRefunded(input: { reference: string; idempotencyKey: string; requestId: string; region?: string }): Promise<{ outcome: 'refunded' | 'already_refunded' }> {
      return callDownstream(
        () => 'OrderRejected',
        async () => {
          const order = await legacy.findByReference(input.reference, { requestId: input.requestId, region: input.region });
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
     */
    async cancelOrder(input: { reference: string; idempotencyKey: string; requestId: string; region?: string }): Promise<{ outcome: 'cancelled' | 'already_cancelled' | 'not_found' }> {
      return callDownstream(
        () => 'CompensationRejected',
        async () => {
          const order = await legacy.findByReference(input.reference, { requestId: input.requestId, region: input.region });
          if (!order) return { outcome: 'not_found' as const };
          if (order.status === 'cancelled') return { outcome: 'already_cancelled' as const };
          await legacy.cancelOrder(order.orderNumber, { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region });
          return { outcome: 'cancelled' as const };
        },
      );
    },
  };
}
