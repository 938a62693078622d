/** Activities against the payment processor (task queue `payments`). */
import { ApplicationFailure } from '@temporalio/common';
import type { PaymentsClient } from '../clients/payments';
import { DownstreamRejected } from '../clients/errors';
import { attemptUndone, callDownstream, lookAfterAnswer } from './call-downstream';

export interface ChargePaymentInput {
  reference: string;
  idempotencyKey: string;
  requestId: string;
  region?: string;
  amountMinor: number;
  currency: string;
  token: string;
  /** This attempt's order was found completed (a reset): a refunded charge is the customer's refund, adopted as the stored answer. */
  completedBefore?: boolean;
  /** A run a Temporal reset made: the attempt's charge is looked up by reference first, and one found is the answer (its key may be forgotten). */
  lookFirst?: boolean;
}

export function createPaymentActivities({ payments }: { payments: PaymentsClient }) {
  /** The attempt's charge as it is now, by reference; AttemptUndone when it was refunded or cancelled since (a refund adopted after completion stands). */
  async function standingCharge(input: { reference: string; requestId: string; region?: string; completedBefore?: boolean }) {
    const now = await payments.findChargeByReference(input.reference, { requestId: input.requestId, region: input.region });
    if (now?.status === 'canceled' || (now?.refunded && !input.completedBefore)) throw attemptUndone('payments', input.reference, `charge ${now.id} is ${now.refunded ? 'refunded' : 'cancelled'}`);
    return now;
  }

  return {
    /** `pending` means the processor finishes later and says so by webhook. */
    async chargePayment(input: ChargePaymentInput): Promise<{ chargeId: string; amountMinor: number; status: 'succeeded' | 'pending' }> {
      const charge = await callDownstream(
        (err) => (err.code === 'card_declined' || err.status === 402 ? 'PaymentDeclined' : 'PaymentRejected'),
        async () => {
          const found = input.lookFirst ? await lookAfterAnswer(() => standingCharge(input)) : undefined;
          if (found) return { ...found, replayed: true };
          const answer = await payments.charge(input, { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region });
          if (!answer.replayed) return answer;
          // A stored answer describes the charge as it was then: was it refunded or cancelled since?
          const now = await lookAfterAnswer(() => standingCharge(input));
          return now ? { ...now, replayed: true } : answer;
        },
      );
      if (charge.status === 'failed' || charge.status === 'canceled') {
        throw ApplicationFailure.create({ type: 'PaymentDeclined', message: `charge ${charge.id} is ${charge.status}`, nonRetryable: true });
      }
      return { chargeId: charge.id, amountMinor: charge.amount, status: charge.status };
    },

    /** Read only: the attempt's charge still stands (not refunded or cancelled since; a refund adopted after completion stands). */
    async checkCharge(input: { reference: string; requestId: string; region?: string; completedBefore?: boolean }): Promise<{ status: string; chargeId?: string }> {
      return callDownstream(
        () => 'CheckRejected',
        async () => {
          const now = await standingCharge(input);
          return now ? { status: now.status, chargeId: now.id } : { status: 'not_found' };
        },
      );
    },

    /**
     * Compensation for chargePayment. The charge may have happened even when its call timed out, so
     * the charge is found by our reference; no charge means nothing to refund.
     */
    async refundPayment(input: { reference: string; idempotencyKey: string; requestId: string; region?: string }): Promise<{ outcome: 'refunded' | 'already_refunded' | 'cancelled' | 'not_charged' }> {
      return callDownstream(
        () => 'CompensationRejected',
        async () => {
          const ctx = { requestId: input.requestId, region: input.region };
          let charge = await lookAfterAnswer(() => payments.findChargeByReference(input.reference, ctx));
          if (charge?.status === 'pending') {
            // Still waiting at the processor (e.g. our wait for its webhook timed out): cancel it.
            const cancelled = await payments.cancelCharge(charge.id, { idempotencyKey: `${input.idempotencyKey}/cancel`, ...ctx }).then(
              () => true,
              (err: unknown) => {
                // It settled between our look and the cancel: look again, and refund it if it succeeded.
                if (err instanceof DownstreamRejected && err.code === 'charge_not_pending') return false;
                throw err;
              },
            );
            if (cancelled) return { outcome: 'cancelled' as const };
            charge = await lookAfterAnswer(() => payments.findChargeByReference(input.reference, ctx));
          }
          if (!charge || charge.status !== 'succeeded') return { outcome: 'not_charged' as const };
          if (charge.refunded) return { outcome: 'already_refunded' as const };
          await payments.refund(charge.id, { idempotencyKey: input.idempotencyKey, ...ctx });
          return { outcome: 'refunded' as const };
        },
      );
    },
  };
}
