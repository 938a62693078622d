/** Activities against the payment processor (task queue `payments`). */
import type { PaymentsClient } from '../clients/payments';
import { callDownstream } from './call-downstream';

export interface ChargePaymentInput {
  reference: string;
  idempotencyKey: string;
  requestId: string;
  amountMinor: number;
  currency: string;
  token: string;
}

export function createPaymentActivities({ payments }: { payments: PaymentsClient }) {
  return {
    async chargePayment(input: ChargePaymentInput): Promise<{ chargeId: string; amountMinor: number }> {
      const charge = await callDownstream(
        (err) => (err.code === 'card_declined' || err.status === 402 ? 'PaymentDeclined' : 'PaymentRejected'),
        () => payments.charge(input, { idempotencyKey: input.idempotencyKey, requestId: input.requestId }),
      );
      return { chargeId: charge.id, amountMinor: charge.amount };
    },

    /**
     * Compensation for chargePayment. The charge may have happened even when its call timed out, so
     * the charge is found by our reference; no charge means nothing to refund.
     */
    async refundPayment(input: { reference: string; idempotencyKey: string; requestId: string }): Promise<{ outcome: 'refunded' | 'already_refunded' | 'not_charged' }> {
      return callDownstream(
        () => 'CompensationRejected',
        async () => {
          const charge = await payments.findChargeByReference(input.reference, { requestId: input.requestId });
          if (!charge || charge.status !== 'succeeded') return { outcome: 'not_charged' as const };
          if (charge.refunded) return { outcome: 'already_refunded' as const };
          await payments.refund(charge.id, { idempotencyKey: input.idempotencyKey, requestId: input.requestId });
          return { outcome: 'refunded' as const };
        },
      );
    },
  };
}
