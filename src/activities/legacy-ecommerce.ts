/** Activities against the legacy ecommerce orders API (task queue `legacy-ecommerce`). */
import type { LegacyEcommerceClient } from '../clients/legacy-ecommerce';
import { classified } from './failures';

export interface CreateOrderInput {
  reference: string;
  idempotencyKey: string;
  requestId: string;
  customerId: string;
  currency: string;
  lines: { sku: string; quantity: number; unitPriceMinor: number }[];
}

export function createLegacyEcommerceActivities({ legacy }: { legacy: LegacyEcommerceClient }) {
  return {
    async createOrder(input: CreateOrderInput): Promise<{ orderNumber: string; totalMinor: number }> {
      const order = await classified(
        () => 'OrderRejected',
        () => legacy.createOrder(input, { idempotencyKey: input.idempotencyKey, requestId: input.requestId }),
      );
      return { orderNumber: order.orderNumber, totalMinor: order.totalMinor };
    },

    async completeOrder(input: { orderNumber: string; idempotencyKey: string; requestId: string }): Promise<{ status: string }> {
      const order = await classified(
        () => 'OrderRejected',
        () => legacy.completeOrder(input.orderNumber, { idempotencyKey: input.idempotencyKey, requestId: input.requestId }),
      );
      return { status: order.status };
    },

    /**
     * Compensation for createOrder. Registered before the order exists, so it finds the order by our
     * reference first: nothing there means nothing to undo, and a cancelled order stays cancelled.
     */
    async cancelOrder(input: { reference: string; idempotencyKey: string; requestId: string }): Promise<{ outcome: 'cancelled' | 'already_cancelled' | 'not_found' }> {
      return classified(
        () => 'CompensationRejected',
        async () => {
          const order = await legacy.findByReference(input.reference, { requestId: input.requestId });
          if (!order) return { outcome: 'not_found' as const };
          if (order.status === 'cancelled') return { outcome: 'already_cancelled' as const };
          await legacy.cancelOrder(order.orderNumber, { idempotencyKey: input.idempotencyKey, requestId: input.requestId });
          return { outcome: 'cancelled' as const };
        },
      );
    },
  };
}
