/**
 * refundSaga: refund the payment → revoke access → mark the legacy order refunded. Money has
 * already moved back after the first step, so there is nothing to compensate: each step retries
 * generously (idempotent, found by the order's reference), and one that fails for good parks the
 * saga (needs_attention) until an operator retries, skips or aborts it.
 */
import { patched, workflowInfo } from '@temporalio/workflow';
import type { RefundOutcome, RefundSagaInput, RefundStatus } from '../contracts/refund';
import { REFUND_STEPS } from '../contracts/refund-protocol';
import { activityProxies } from './activity-options';
import { EPOCH_KEYS_PATCH, Saga } from './saga';
import { runTransaction } from './transaction';

export async function refundSaga(input: RefundSagaInput): Promise<RefundStatus> {
  const { workflowId } = workflowInfo();
  const { compensation: retrying } = activityProxies(input);
  const saga = new Saga(REFUND_STEPS, { workflowId, attempt: input.attempt, epochs: patched(EPOCH_KEYS_PATCH) });
  // The downstream objects belong to the order (the attempt of it that completed); the keys belong to this refund.
  const call = (idempotencyKey: string) => ({ reference: input.orderReference ?? input.orderWorkflowId, idempotencyKey, requestId: input.requestId, region: input.region });

  return runTransaction(input, saga, async (): Promise<{ refund: RefundOutcome }> => {
    // Nothing here can be undone, so a step that fails for good parks for an operator.
    const step = (name: string, run: (idempotencyKey: string) => Promise<{ outcome: string }>) => saga.run(name, run, { park: { skipped: () => ({ outcome: 'skipped-by-operator' }) } });
    const payment = await step('refundPayment', (key) => retrying.payments.refundPayment(call(key)));
    const access = await step('revokeAccess', (key) => retrying.fulfilment.revokeAccess(call(key)));
    const legacyOrder = await step('markOrderRefunded', (key) => retrying.legacyEcommerce.markOrderRefunded(call(key)));
    return { refund: { orderKey: input.orderKey, payment: payment.outcome, access: access.outcome, legacyOrder: legacyOrder.outcome } };
  }) as Promise<RefundStatus>;
}
