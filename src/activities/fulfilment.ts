/** Activities against the fulfilment service (task queue `fulfilment`). */
import type { FulfilmentClient } from '../clients/fulfilment';
import { DownstreamRejected } from '../clients/errors';
import { SKIPPED_BY_OPERATOR } from '../contracts/transaction-protocol';
import { attemptUndone, callDownstream, lookAfterAnswer } from './call-downstream';

export function createFulfilmentActivities({ fulfilment }: { fulfilment: FulfilmentClient }) {
  /** The attempt's grant as it is now, by reference; AttemptUndone when access was revoked since (a revocation adopted after completion stands). */
  async function standingGrant(input: { reference: string; requestId: string; region?: string; completedBefore?: boolean }) {
    const now = await fulfilment.findByReference(input.reference, { requestId: input.requestId, region: input.region });
    if (now?.status === 'revoked' && !input.completedBefore) throw attemptUndone('fulfilment', input.reference, `enrollment ${now.id} is revoked`);
    return now;
  }

  return {
    /**
     * `completedBefore`: this attempt's order was found completed (a reset); what stands is adopted:
     * a revoked grant is the customer's refund, and a refusal stored under this key was settled by an
     * operator then — a retry that granted under a later epoch (found by reference), or a skip
     * (granted by hand: nothing of ours to find).
     */
    async grantAccess(input: { reference: string; idempotencyKey: string; requestId: string; region?: string; customerId: string; skus: string[]; completedBefore?: boolean; lookFirst?: boolean }): Promise<{ enrollmentId: string }> {
      const enrollment = await callDownstream(
        () => 'AccessRejected',
        async () => {
          // A run a Temporal reset made: the attempt's grant, found by reference, is the answer (its key may be forgotten).
          const found = input.lookFirst ? await lookAfterAnswer(() => standingGrant(input)) : undefined;
          if (found) return { id: found.id, replayed: true };
          const granted = await fulfilment.grant(input, { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region }).catch(async (err: unknown) => {
            if (!(err instanceof DownstreamRejected) || !input.completedBefore) throw err;
            const settled = await fulfilment.findByReference(input.reference, { requestId: input.requestId, region: input.region });
            return { id: settled?.id ?? SKIPPED_BY_OPERATOR, replayed: false };
          });
          if (!granted.replayed) return granted;
          // A stored answer describes the grant as it was then: was access revoked since?
          await lookAfterAnswer(() => standingGrant(input));
          return granted;
        },
      );
      return { enrollmentId: enrollment.id };
    },

    /** Read only: the attempt's grant still stands (not revoked since; a revocation adopted after completion stands). */
    async checkAccess(input: { reference: string; requestId: string; region?: string; completedBefore?: boolean }): Promise<{ status: string }> {
      return callDownstream(
        () => 'CheckRejected',
        async () => ({ status: (await standingGrant(input))?.status ?? 'not_found' }),
      );
    },

    /**
     * Compensation for a refund's revokeAccess (its refund could not be made): the access the refund
     * revoked is granted again, for the same customer and courses, under the compensation's own key
     * and the enrolment it restores (one grant per revocation undone: a reset that revoked the
     * restored enrolment again, then aborted again, gets a new grant, not the first one's record).
     */
    async restoreAccess(input: { reference: string; idempotencyKey: string; requestId: string; region?: string }): Promise<{ outcome: 'restored' | 'still_granted' | 'not_found' }> {
      return callDownstream(
        () => 'CompensationRejected',
        async () => {
          const ctx = { requestId: input.requestId, region: input.region };
          const enrollment = await lookAfterAnswer(() => fulfilment.findByReference(input.reference, ctx));
          if (!enrollment) return { outcome: 'not_found' as const };
          if (enrollment.status === 'active') return { outcome: 'still_granted' as const };
          await fulfilment.grant({ customerId: enrollment.customerId, skus: enrollment.skus, reference: input.reference }, { idempotencyKey: `${input.idempotencyKey}/${enrollment.id}`, ...ctx });
          return { outcome: 'restored' as const };
        },
      );
    },

    /** Compensation for grantAccess, found by our reference because the grant may have timed out after committing. */
    async revokeAccess(input: { reference: string; idempotencyKey: string; requestId: string; region?: string }): Promise<{ outcome: 'revoked' | 'already_revoked' | 'not_granted' }> {
      return callDownstream(
        () => 'CompensationRejected',
        async () => {
          const enrollment = await lookAfterAnswer(() => fulfilment.findByReference(input.reference, { requestId: input.requestId, region: input.region }));
          if (!enrollment) return { outcome: 'not_granted' as const };
          if (enrollment.status === 'revoked') return { outcome: 'already_revoked' as const };
          await fulfilment.revoke(enrollment.id, { idempotencyKey: input.idempotencyKey, requestId: input.requestId, region: input.region });
          return { outcome: 'revoked' as const };
        },
      );
    },
  };
}
