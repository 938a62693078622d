/**
 * refundSaga: refund the payment → revoke access → mark the legacy order refunded. Money has
 * already moved back after the first step, so there is nothing to compensate: each step retries
 * generously (idempotent, found by the order's reference), and one that fails for good parks the
 * saga (needs_attention) until an operator retries or skips it (an abort once the money is back is
 * refused, and a Cancel is not acted on: either would leave access without a charge).
 */
import { ApplicationFailure, CancellationScope, patched, workflowInfo } from '@temporalio/workflow';
import type { RefundOutcome, RefundSagaInput, RefundStatus } from '../contracts/refund';
import { REFUND_STEPS } from '../contracts/refund-protocol';
import { SKIPPED_BY_OPERATOR } from '../contracts/transaction-protocol';
import { activityProxies } from './activity-options';
import { EPOCH_KEYS_PATCH, Saga } from './saga';
import { runTransaction } from './transaction';

/** Refunds started since ignore an operator's Cancel (before: a Cancel while parked after the money went back ended the refund half done). */
const REFUND_NOT_CANCELLABLE_PATCH = 'refund-not-cancellable';

export async function refundSaga(input: RefundSagaInput): Promise<RefundStatus> {
  const { workflowId } = workflowInfo();
  const { compensation: retrying } = activityProxies(input);
  const saga = new Saga(REFUND_STEPS, { workflowId, attempt: input.attempt, epochs: patched(EPOCH_KEYS_PATCH) });
  // The downstream objects belong to the order (the attempt of it that completed); the keys belong to this refund.
  const call = (idempotencyKey: string) => ({ reference: input.orderReference ?? input.orderWorkflowId, idempotencyKey, requestId: input.requestId, region: input.region });

  // Money moves back first; after that, stopping half-way would leave access without a charge. An
  // operator's Cancel (Web UI, CLI) is therefore not acted on: a parked refund is decided instead.
  const shielded = patched(REFUND_NOT_CANCELLABLE_PATCH);
  const body = async (): Promise<{ refund: RefundOutcome }> => {
    // Nothing here can be undone, so a step that fails for good parks for an operator.
    const step = (name: string, run: (idempotencyKey: string) => Promise<{ outcome: string }>) => saga.run(name, run, { park: { skipped: () => ({ outcome: SKIPPED_BY_OPERATOR }) } });
    // Access support granted by hand is not ours to find: revoking it is support's too, and comes
    // first (park; skip once done), so the money never goes back while that access stays.
    const byHand = input.accessGrantedByHand ? await step('revokeAccess', grantedByHand) : undefined;
    const payment = await step('refundPayment', (key) => retrying.payments.refundPayment(call(key)));
    const access = byHand ?? (await step('revokeAccess', (key) => retrying.fulfilment.revokeAccess(call(key))));
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
  });
}
