/** refundSaga on the time-skipping test server: keys per refund, targets per order, no compensation to run. */
import type { ApplicationFailure } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { refundWorkflowId, type RefundSagaInput, type RefundStatus } from '../../src/contracts/refund';
import { orderWorkflowId } from '../../src/contracts/order';
import { registerSearchAttributes } from '../../src/temporal/search-attributes';
import { timeSkippingServer } from '../support/env';
import { failureOf, nonRetryable, runWorkflow, stubActivities, type Calls } from '../support/saga-harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: timeSkippingServer });
  await registerSearchAttributes(env.connection, 'default');
});
afterAll(async () => {
  await env?.teardown();
});

const orderId = orderWorkflowId('alice', 'order-1');
function input(refundKey: string): RefundSagaInput {
  return { customerId: 'alice', idempotencyKey: refundKey, orderKey: 'order-1', orderWorkflowId: orderId, fingerprint: 'f', startToken: 's', requestId: 'r', receivedAt: '2026-11-22T00:00:00.000Z' };
}

test('a refund refunds, revokes and marks the order refunded, addressing the order with keys of its own', async () => {
  const calls: Calls = [];
  const references: string[] = [];
  const activities = stubActivities(calls, {
    payments: {
      refundPayment: async (i) => {
        references.push(i.reference);
        calls.push(`refundPayment ${i.idempotencyKey}`);
        return { outcome: 'refunded' };
      },
    },
  });
  const id = refundWorkflowId('alice', 'order-1');
  const result = (await runWorkflow(env, 'refundSaga', id, input('refund-1'), activities)) as RefundStatus;
  expect(calls).toEqual([`refundPayment ${id}/refundPayment`, `revokeAccess ${id}/revokeAccess`, `markOrderRefunded ${id}/markOrderRefunded`]);
  expect(references).toEqual([orderId]);
  expect(result).toMatchObject({ status: 'completed', refund: { orderKey: 'order-1', payment: 'refunded', access: 'revoked', legacyOrder: 'refunded' } });
});

test('a refund step that fails for good fails the saga for an operator, with nothing compensated', async () => {
  const calls: Calls = [];
  const err = await failureOf(runWorkflow(env, 'refundSaga', refundWorkflowId('alice', 'order-2'), input('refund-2'), stubActivities(calls, { fulfilment: { revokeAccess: nonRetryable('CompensationRejected', 'locked') } })));
  const summary = err.cause as ApplicationFailure;
  expect(summary.type).toBe('CompensationRejected');
  expect(summary.details?.[0]).toMatchObject({ status: 'failed', failure: { step: 'revokeAccess' } });
  expect(calls.map((c) => c.split(' ')[0])).toEqual(['refundPayment']);
});
