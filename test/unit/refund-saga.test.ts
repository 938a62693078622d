/** refundSaga on the time-skipping test server: keys per refund, targets per order, no compensation to run. */
import { ApplicationFailure, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { refundWorkflowId, type RefundStatus } from '../../src/contracts/refund';
import { orderWorkflowId } from '../../src/contracts/order';
import { decideUpdate, transactionStatusQuery } from '../../src/contracts/transaction';
import { driveWorkflow, nonRetryable, parkedStatus, refundSagaInput, refused, runWorkflow, stubActivities, type Calls, timeSkippingEnvironment } from '../support/saga-harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

const orderId = orderWorkflowId('alice', 'order-1');
const input = (refundKey: string) => refundSagaInput(refundKey);

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

test('a refund the processor refuses after access was revoked can be aborted: its undo gives the access back, so the charge keeps its access', async () => {
  const calls: Calls = [];
  const id = refundWorkflowId('alice', 'order-3r');
  const err = await driveWorkflow(env, 'refundSaga', id, input('refund-3r'), stubActivities(calls, { payments: { refundPayment: refused('RefundRejected', 'disputed') } }), async (handle) => {
    expect((await parkedStatus(handle)).parked).toMatchObject({ step: 'refundPayment' });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'dispute opened; the processor keeps the charge', operator: 'ann' }] });
  });
  // Before: abort was refused here (nothing re-granted access), and only a false "refunded by hand" skip ended it.
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const status = ((err as WorkflowFailedError).cause as ApplicationFailure).details?.[0] as RefundStatus;
  expect(status).toMatchObject({ status: 'compensated' });
  expect(status.steps.find((s) => s.name === 'revokeAccess')).toMatchObject({ state: 'compensated', compensationOutcome: 'restored' });
  expect(calls).toEqual([`revokeAccess ${id}/revokeAccess/1`, `restoreAccess ${id}/restoreAccess/1`]);
});

test('a refund that may have been made (no definite answer) cannot be aborted once access is revoked; a skip once it is done by hand finishes it', async () => {
  const calls: Calls = [];
  const activities = stubActivities(calls, { payments: { refundPayment: nonRetryable('DownstreamContractViolation', 'unreadable answer') } });
  const result = (await driveWorkflow(env, 'refundSaga', refundWorkflowId('alice', 'order-3'), input('refund-3'), activities, async (handle) => {
    await parkedStatus(handle);
    const refused = await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'give up', operator: 'ann' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'AbortNotSafe', message: expect.stringContaining('possibly done') });
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
    payments: {
      refundPayment: async (i) => {
        calls.push(`refundPayment ${i.idempotencyKey}`);
        // A day of timeouts ends as a failure with no answer from the processor (not its refusal).
        if ((tries += 1) === 1) throw ApplicationFailure.create({ type: 'DownstreamContractViolation', message: 'unreadable answer', nonRetryable: true });
        return { outcome: 'refunded' };
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
  // The retry kept the key: whatever the first call did, the processor answers it from its record.
  expect(calls.filter((c) => c.startsWith('refundPayment'))).toEqual([`refundPayment ${id}/refundPayment/1`, `refundPayment ${id}/refundPayment/1`]);
  expect(calls.map((c) => c.split(' ')[0])).not.toContain('restoreAccess');
});

test('a revocation that may have happened (no definite answer) can be aborted: its undo restores whatever it revoked, and no money moved', async () => {
  const calls: Calls = [];
  const id = refundWorkflowId('alice', 'order-7');
  const activities = stubActivities(calls, { fulfilment: { revokeAccess: nonRetryable('DownstreamContractViolation', 'unreadable answer') } });
  const err = await driveWorkflow(env, 'refundSaga', id, input('refund-7'), activities, async (handle) => {
    expect((await parkedStatus(handle)).parked).toMatchObject({ step: 'revokeAccess' });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'customer withdrew the request', operator: 'ann' }] });
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(calls).toEqual([`restoreAccess ${id}/restoreAccess/1`]);
});

test('a refund of an order whose access was granted by hand parks before anything moves, and can be aborted there (nothing was done)', async () => {
  const calls: Calls = [];
  const err = await driveWorkflow(env, 'refundSaga', refundWorkflowId('alice', 'order-8'), { ...input('refund-8'), accessGrantedByHand: true }, stubActivities(calls), async (handle) => {
    expect((await parkedStatus(handle)).parked).toMatchObject({ step: 'revokeAccess', error: { type: 'AccessGrantedByHand' } });
    // Before: refused as "possibly done", though no call had been made.
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'customer withdrew the request', operator: 'ann' }] });
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(calls).toEqual([]);
});
