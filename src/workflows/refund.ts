/**
 * refundSaga: refund the payment → revoke access → mark the legacy order refunded. Money has
 * already moved back after the first step, so there is nothing to compensate: each step retries
 * generously (idempotent, found by the order's reference), and one that fails for good parks the
 * saga (needs_attention) until an operator retries, skips or aborts it.
 */
import { workflowInfo } from '@temporalio/workflow';
import { REFUND_STEPS, type RefundOutcome, type RefundSagaInput, type RefundStatus } from '../contracts/refund';
import { downstreamKey } from '../contracts/transaction';
import { activityProxies } from './activity-options';
import { Saga } from './saga';
import { runTransaction } from './transaction';

export async function refundSaga(input: RefundSagaInput): Promise<RefundStatus> {
  const { workflowId } = workflowInfo();
  const { compensation: retrying } = activityProxies();
  const saga = new Saga(REFUND_STEPS);
  // The downstream objects belong to the order; the keys belong to this refund.
  const call = (step: string) => ({ reference: input.orderWorkflowId, idempotencyKey: downstreamKey(workflowId, step), requestId: input.requestId, region: input.region });

  return runTransaction(input, saga, async (): Promise<{ refund: RefundOutcome }> => {
    // Nothing here can be undone, so a step that fails for good parks for an operator.
    const step = (name: string, run: () => Promise<{ outcome: string }>) => saga.run(name, run, { park: { skipped: () => ({ outcome: 'skipped-by-operator' }) } });
    const payment = await step('refundPayment', () => retrying.payments.refundPayment(call('refundPayment')));
    const access = await step('revokeAccess', () => retrying.fulfilment.revokeAccess(call('revokeAccess')));
    const legacyOrder = await step('markOrderRefunded', () => retrying.legacyEcommerce.markOrderRefunded(call('markOrderRefunded')));
    return { refund: { orderKey: input.orderKey, payment: payment.outcome, access: access.outcome, legacyOrder: legacyOrder.outcome } };
  }) as Promise<RefundStatus>;
}
