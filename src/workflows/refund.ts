/**
 * refundSaga: revoke access → refund the payment → mark the legacy order refunded. Access goes
 * first, so a refund never leaves access without a charge (fulfilment down for hours keeps the
 * money where it is, not the access). Each step retries generously (idempotent, found by the
 * order's reference), and one that fails for good parks the saga (needs_attention) until an
 * operator decides: retry, skip (done by hand), or abort where nothing is stranded — the revocation's
 * undo gives the access back (a refund the processor refused), but once the money is back nothing
 * undoes it. A Cancel is not acted on: a parked refund is decided instead.
 */
import { ApplicationFailure, CancellationScope, patched, workflowInfo } from '@temporalio/workflow';
import type { RefundOutcome, RefundSagaInput, RefundStatus } from '../contracts/refund';
import { REFUND_COMPENSATIONS, REFUND_STEPS, REFUND_STEPS_MONEY_FIRST } from '../contracts/refund-protocol';
import { SKIPPED_BY_OPERATOR } from '../contracts/transaction-protocol';
import { activityProxies } from './activity-options';
import { EPOCH_KEYS_PATCH, Saga } from './saga';
import { runTransaction } from './transaction';

/** Refunds started since ignore an operator's Cancel (before: a Cancel while parked after the money went back ended the refund half done). */
const REFUND_NOT_CANCELLABLE_PATCH = 'refund-not-cancellable';
/** Refunds started since revoke access before the money goes back (before: money first, and access stayed while fulfilment failed). */
const REVOKE_FIRST_PATCH = 'refund-revokes-access-first';

export async function refundSaga(input: RefundSagaInput): Promise<RefundStatus> {
  const { workflowId } = workflowInfo();
  const { compensation: retrying } = activityProxies(input);
  const epochs = patched(EPOCH_KEYS_PATCH);
  const revokeFirst = patched(REVOKE_FIRST_PATCH);
  const saga = new Saga(revokeFirst ? REFUND_STEPS : REFUND_STEPS_MONEY_FIRST, { workflowId, attempt: input.attempt, epochs });
  // The downstream objects belong to the order (the attempt of it that completed); the keys belong to this refund.
  const call = (idempotencyKey: string) => ({ reference: input.orderReference ?? input.orderWorkflowId, idempotencyKey, requestId: input.requestId, region: input.region });

  // Once a step has moved anything, stopping half-way would leave access and money apart. An
  // operator's Cancel (Web UI, CLI) is therefore not acted on: a parked refund is decided instead.
  const shielded = patched(REFUND_NOT_CANCELLABLE_PATCH);
  if (shielded) saga.uncancellable = 'A refund is not cancellable: once access is revoked it must finish. Decide on it instead (retry, skip, or abort where that is safe).';
  const body = async (): Promise<{ refund: RefundOutcome }> => {
    // A step that fails for good parks for an operator (only the revocation has an undo: see below).
    const parkable = { park: { skipped: () => ({ outcome: SKIPPED_BY_OPERATOR }) } };
    const step = (name: string, run: (idempotencyKey: string) => Promise<{ outcome: string }>) => saga.run(name, run, parkable);
    // Access support granted by hand is not ours to find: revoking it is support's too (park; skip once done).
    // Revoked first, its undo gives the access back: an abort of a refund the processor refused (a
    // dispute, a closed window) restores it, so the charge is never left without its access.
    const restore = revokeFirst ? { compensation: { name: REFUND_COMPENSATIONS.revokeAccess, run: (key: string) => retrying.fulfilment.restoreAccess(call(key)) } } : {};
    const revoke = () =>
      input.accessGrantedByHand ? step('revokeAccess', grantedByHand) : saga.run('revokeAccess', (key) => retrying.fulfilment.revokeAccess(call(key)), { ...parkable, ...restore });
    // The money never goes back while the access stays. (Older refunds refunded first, and revoked
    // first only access granted by hand; they replay so.)
    const first = revokeFirst || input.accessGrantedByHand ? await revoke() : undefined;
    const payment = await step('refundPayment', (key) => retrying.payments.refundPayment(call(key)));
    const access = first ?? (await revoke());
    const legacyOrder = await step('markOrderRefunded', (key) => retrying.legacyEcommerce.markOrderRefunded(call(key)));
    return { refund: { orderKey: input.orderKey, payment: payment.outcome, access: access.outcome, legacyOrder: legacyOrder.outcome } };
  };
  return runTransaction(input, saga, () => (shielded ? CancellationScope.nonCancellable(body) : body())) as Promise<RefundStatus>;
}

function grantedByHand(): never {
  throw ApplicationFailure.create({
    type: 'AccessGrantedByHand',
    message: "The order's access was granted by hand (support skipped its grant): revoke it by hand, then skip this step.",
    nonRetryable: true,
    // Nothing was done (no call was made): an abort here is safe and leaves the order as it was.
    details: [{ refused: true }],
  });
}
