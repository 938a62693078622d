/**
 * orderSaga on the time-skipping test server with stubbed activities: the happy path, each
 * compensation branch and its order, non-retryable short-circuits, transient retries, and a
 * compensation failure that is reported rather than swallowed.
 */
import { ActivityFailure, ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ORDER_STEPS, TASK_QUEUE_ROLES, attachUpdate, orderWorkflowId, taskQueues, type OrderSagaInput, type OrderStatus } from '../../src/contracts/order';
import type { Activities } from '../../src/activities';
import { registerSearchAttributes } from '../../src/temporal/search-attributes';
import { createWorkers } from '../../src/worker';
import { testEnv, timeSkippingServer } from '../support/env';
import { uniquePrefix, withWorkers } from '../support/workers';
import { failureOf, nonRetryable, runWorkflow, stubActivities, type Calls } from '../support/saga-harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: timeSkippingServer });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
});
afterAll(async () => {
  await env?.teardown();
});

function input(key: string): OrderSagaInput {
  return {
    customerId: 'alice',
    idempotencyKey: key,
    order: { items: [{ sku: 'course-v1:DemoX+2026', quantity: 2, unitPrice: '24.50' }], currency: 'USD', paymentMethod: { token: 'tok_visa' } },
    fingerprint: 'f',
    startToken: 's',
    requestId: 'req-1',
    receivedAt: '2026-11-22T00:00:00.000Z',
  };
}

function runSaga(key: string, activities: Activities): Promise<OrderStatus> {
  return runWorkflow(env, 'orderSaga', orderWorkflowId('alice', key), input(key), activities) as Promise<OrderStatus>;
}

test('a successful order runs every step once, in order, with keys derived from the workflow ID and step', async () => {
  const calls: Calls = [];
  const result = await runSaga('happy', stubActivities(calls));
  const id = orderWorkflowId('alice', 'happy');
  expect(calls).toEqual([`createOrder ${id}/createOrder`, `chargePayment ${id}/chargePayment`, `grantAccess ${id}/grantAccess`, `completeOrder ${id}/completeOrder`]);
  expect(result.status).toBe('completed');
  expect(result.order).toEqual({ orderNumber: 'EC-1', chargeId: 'ch_1', enrollmentId: 'enr_1', total: { amount: '49.00', currency: 'USD' } });
  expect(result.steps.map((s) => [s.name, s.state])).toEqual(ORDER_STEPS.map((s) => [s, 'completed']));
});

test('a declined payment is not retried and undoes the order and the (possibly performed) charge, newest first', async () => {
  const calls: Calls = [];
  let chargeAttempts = 0;
  const activities = stubActivities(calls, {
    payments: {
      chargePayment: async () => {
        chargeAttempts += 1;
        calls.push('chargePayment');
        throw ApplicationFailure.create({ type: 'PaymentDeclined', message: 'Your card was declined.', nonRetryable: true });
      },
    },
  });
  const err = await failureOf(runSaga('declined', activities));

  expect(chargeAttempts).toBe(1);
  expect(calls.map((c) => c.split(' ')[0])).toEqual(['createOrder', 'chargePayment', 'refundPayment', 'cancelOrder']);
  // WorkflowFailedError → ApplicationFailure(PaymentDeclined, saga summary) → ActivityFailure → ApplicationFailure(PaymentDeclined)
  const summary = err.cause as ApplicationFailure;
  expect(summary).toBeInstanceOf(ApplicationFailure);
  expect(summary.type).toBe('PaymentDeclined');
  expect(summary.cause).toBeInstanceOf(ActivityFailure);
  expect((summary.cause as ActivityFailure).cause).toMatchObject({ type: 'PaymentDeclined', message: 'Your card was declined.' });
  const status = summary.details?.[0] as OrderStatus;
  expect(status.status).toBe('compensated');
  expect(status.failure).toEqual({ step: 'chargePayment', type: 'PaymentDeclined', message: 'Your card was declined.' });
  expect(status.steps.find((s) => s.name === 'grantAccess')?.state).toBe('pending');
});

test('a failure after access was granted revokes, refunds and cancels, newest first', async () => {
  const calls: Calls = [];
  const err = await failureOf(runSaga('late-failure', stubActivities(calls, { legacyEcommerce: { completeOrder: nonRetryable('OrderRejected') } })));
  expect(calls.map((c) => c.split(' ')[0])).toEqual(['createOrder', 'chargePayment', 'grantAccess', 'revokeAccess', 'refundPayment', 'cancelOrder']);
  const id = orderWorkflowId('alice', 'late-failure');
  expect(calls.slice(3)).toEqual([`revokeAccess ${id}/revokeAccess`, `refundPayment ${id}/refundPayment`, `cancelOrder ${id}/cancelOrder`]);
  expect((err.cause as ApplicationFailure).type).toBe('OrderRejected');
});

test('a failure creating the order compensates only the order step', async () => {
  const calls: Calls = [];
  await failureOf(runSaga('create-fails', stubActivities(calls, { legacyEcommerce: { createOrder: nonRetryable('OrderRejected') } })));
  expect(calls.map((c) => c.split(' ')[0])).toEqual(['cancelOrder']);
});

test('a transient downstream error is retried with the same key and the saga completes', async () => {
  const calls: Calls = [];
  const keys: string[] = [];
  let attempts = 0;
  const activities = stubActivities(calls, {
    payments: {
      chargePayment: async (i) => {
        attempts += 1;
        keys.push(i.idempotencyKey);
        if (attempts < 3) throw ApplicationFailure.create({ type: 'DownstreamUnavailable', message: 'payments answered 503', nonRetryable: false });
        return { chargeId: 'ch_9', amountMinor: 4900 };
      },
    },
  });
  const result = await runSaga('transient', activities);
  expect(result.status).toBe('completed');
  expect(attempts).toBe(3);
  expect(new Set(keys).size).toBe(1);
});

test('a compensation that fails for good is reported, and the other compensations still run', async () => {
  const calls: Calls = [];
  const activities = stubActivities(calls, {
    legacyEcommerce: { completeOrder: nonRetryable('OrderRejected') },
    fulfilment: { revokeAccess: nonRetryable('CompensationRejected', 'enrolment locked') },
  });
  const err = await failureOf(runSaga('compensation-fails', activities));
  const summary = err.cause as ApplicationFailure;
  expect(summary.type).toBe('CompensationFailed');
  expect(summary.message).toContain('revokeAccess: enrolment locked');
  expect(calls.map((c) => c.split(' ')[0])).toEqual(['createOrder', 'chargePayment', 'grantAccess', 'refundPayment', 'cancelOrder']);
  const status = summary.details?.[0] as OrderStatus;
  expect(status.steps.find((s) => s.name === 'grantAccess')).toMatchObject({ state: 'compensation_failed', error: { type: 'CompensationRejected' } });
});

describe('the attach update', () => {
  async function withRunningSaga<T>(key: string, fn: (handle: import('@temporalio/client').WorkflowHandle) => Promise<T>, release: Promise<void>): Promise<T> {
    const calls: Calls = [];
    // grantAccess waits for the test to release it, so the saga is running while we attach.
    const activities = stubActivities(calls, { fulfilment: { grantAccess: async () => (await release, { enrollmentId: 'enr_1' }) } });
    const prefix = uniquePrefix('attach');
    const workers = await createWorkers({ connection: env.nativeConnection, namespace: 'default', taskQueuePrefix: prefix, roles: TASK_QUEUE_ROLES, activities, workflowBundle: { codePath: testEnv().bundlePath } });
    return withWorkers(workers, async () => {
      const handle = await env.client.workflow.start('orderSaga', { taskQueue: taskQueues(prefix).orders, workflowId: orderWorkflowId('alice', key), args: [input(key)] });
      return fn(handle);
    });
  }

  test('rejects another body or another key, answers a retry at once, and lets the creator wait for the outcome', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await withRunningSaga(
      'attach',
      async (handle) => {
        const reused = await handle.executeUpdate(attachUpdate, { args: [{ idempotencyKey: 'attach', fingerprint: 'other', startToken: 'x', waitForOutcome: true }] }).catch((e: unknown) => e);
        expect(reused).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((reused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'IdempotencyKeyReused' });
        const foreign = await handle.executeUpdate(attachUpdate, { args: [{ idempotencyKey: 'other-key', fingerprint: 'f', startToken: 'x', waitForOutcome: true }] }).catch((e: unknown) => e);
        expect((foreign as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'TransactionExists' });

        const retry = await handle.executeUpdate(attachUpdate, { args: [{ idempotencyKey: 'attach', fingerprint: 'f', startToken: 'another-request', waitForOutcome: true }] });
        expect(retry).toMatchObject({ created: false, status: { status: 'running' } });

        const creator = handle.executeUpdate(attachUpdate, { args: [{ idempotencyKey: 'attach', fingerprint: 'f', startToken: 's', waitForOutcome: true }] });
        release();
        expect(await creator).toMatchObject({ created: true, status: { status: 'completed', order: { orderNumber: 'EC-1' } } });
        expect(await handle.result()).toMatchObject({ status: 'completed' });
      },
      released,
    );
  });
});
