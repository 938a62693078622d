/** refundSaga on the time-skipping test server: keys per refund, targets per order, no compensation to run. */
import { ApplicationFailure, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { refundWorkflowId, type RefundSagaInput, type RefundStatus } from '../../src/contracts/refund';
import { orderWorkflowId } from '../../src/contracts/order';
import { decideUpdate, transactionStatusQuery } from '../../src/contracts/transaction';
import { driveWorkflow, nonRetryable, parkedStatus, refused, runWorkflow, stubActivities, type Calls, timeSkippingEnvironment } from '../support/saga-harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

const orderId = orderWorkflowId('alice', 'order-1');
function input(refundKey: string): RefundSagaInput {
  return { customerId: 'alice', idempotencyKey: refundKey, orderKey: 'order-1', orderWorkflowId: orderId, fingerprint: 'f', startToken: 's', requestId: 'r', receivedAt: '2026-11-22T00:00:00.000Z' };
}

test('a refund revokes, refunds and marks the order refunded (access before the money), addressing the order with keys of its own', async () => {
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
  expect(calls).toEqual([`revokeAccess ${id}/revokeAccess/1`, `refundPayment ${id}/refundPayment/1`, `markOrderRefunded ${id}/markOrderRefunded/1`]);
  expect(references).toEqual([orderId]);
  expect(result).toMatchObject({ status: 'completed', refund: { orderKey: 'order-1', payment: 'refunded', access: 'revoked', legacyOrder: 'refunded' } });
});

test('a refund step that fails for good parks; skipping it (done by hand) lets the refund finish', async () => {
  const calls: Calls = [];
  const result = (await driveWorkflow(env, 'refundSaga', refundWorkflowId('alice', 'order-2'), input('refund-2'), stubActivities(calls, { fulfilment: { revokeAccess: nonRetryable('CompensationRejected', 'locked') } }), async (handle) => {
    const parked = await parkedStatus(handle);
    expect(parked.parked).toMatchObject({ step: 'revokeAccess', kind: 'step' });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'revoked in the LMS', operator: 'ann' }] });
  })) as RefundStatus;
  expect(result).toMatchObject({ status: 'completed', refund: { access: 'skipped-by-operator' } });
  expect(calls.map((c) => c.split(' ')[0])).toEqual(['refundPayment', 'markOrderRefunded']);
});

test('once access is revoked, a parked refund step cannot be aborted (it would leave the charge without its access); before it, it can', async () => {
  const calls: Calls = [];
  const activities = stubActivities(calls, { payments: { refundPayment: nonRetryable('RefundRejected', 'disputed') } });
  const result = (await driveWorkflow(env, 'refundSaga', refundWorkflowId('alice', 'order-3'), input('refund-3'), activities, async (handle) => {
    await parkedStatus(handle);
    const refused = await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'give up', operator: 'ann' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'AbortNotSafe', message: expect.stringContaining('revokeAccess') });
    // Still parked, nothing decided: the operator can still settle it.
    expect((await handle.query(transactionStatusQuery)).parked).toMatchObject({ step: 'refundPayment' });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'refunded at the processor by hand', operator: 'ann' }] });
  })) as RefundStatus;
  expect(result).toMatchObject({ status: 'completed', refund: { payment: 'skipped-by-operator', access: 'revoked', legacyOrder: 'refunded' } });

  // Parked at its first step nothing has moved: abort is safe and ends it, the order as it was.
  const nothingMoved = await driveWorkflow(env, 'refundSaga', refundWorkflowId('alice', 'order-4'), input('refund-4'), stubActivities([], { fulfilment: { revokeAccess: refused('CompensationRejected', 'LMS locked') } }), async (handle) => {
    await parkedStatus(handle);
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'dispute opened; handled by the processor', operator: 'ann' }] });
  });
  expect(nothingMoved).toBeInstanceOf(WorkflowFailedError);
});

test("an operator's Cancel of a refund parked after access was revoked is not acted on: it stays parked, and a decision finishes it", async () => {
  const calls: Calls = [];
  const activities = stubActivities(calls, { payments: { refundPayment: nonRetryable('RefundRejected', 'disputed') } });
  const result = (await driveWorkflow(env, 'refundSaga', refundWorkflowId('alice', 'order-5'), input('refund-5'), activities, async (handle) => {
    await parkedStatus(handle);
    await handle.cancel();
    // Still parked at refundPayment: the Cancel changed nothing, and the decision is answered as applied.
    expect((await handle.query(transactionStatusQuery)).parked).toMatchObject({ step: 'refundPayment' });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'refunded at the processor by hand', operator: 'ann' }] });
  })) as RefundStatus;
  expect(result).toMatchObject({ status: 'completed', refund: { payment: 'skipped-by-operator', access: 'revoked', legacyOrder: 'refunded' } });
});

test('a refund step that failed without a definite answer (it may have happened) cannot be aborted; a retry with the same key settles it', async () => {
  const calls: Calls = [];
  let tries = 0;
  const activities = stubActivities(calls, {
    fulfilment: {
      revokeAccess: async (i) => {
        calls.push(`revokeAccess ${i.idempotencyKey}`);
        // A day of timeouts ends as a failure with no answer from fulfilment (not its refusal).
        if ((tries += 1) === 1) throw ApplicationFailure.create({ type: 'DownstreamContractViolation', message: 'unreadable answer', nonRetryable: true });
        return { outcome: 'revoked' };
      },
    },
  });
  const id = refundWorkflowId('alice', 'order-6');
  const result = (await driveWorkflow(env, 'refundSaga', id, input('refund-6'), activities, async (handle) => {
    await parkedStatus(handle);
    const refusedAbort = await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'give up', operator: 'ann' }] }).catch((e: unknown) => e);
    expect((refusedAbort as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'AbortNotSafe', message: expect.stringContaining('possibly done') });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', operator: 'ann' }] });
  })) as RefundStatus;
  expect(result).toMatchObject({ status: 'completed', refund: { access: 'revoked', payment: 'refunded' } });
  // The retry kept the key: whatever the first call did, fulfilment answers it from its record.
  expect(calls.filter((c) => c.startsWith('revokeAccess'))).toEqual([`revokeAccess ${id}/revokeAccess/1`, `revokeAccess ${id}/revokeAccess/1`]);
});
