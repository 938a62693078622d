/** Helpers for workflow unit tests: recording activity stubs and a run of one workflow on in-process workers. */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../src/activities';
import type { OrderSagaInput, OrderStatus } from '../../src/contracts/order';
import { orderWorkflowId } from '../../src/contracts/order';
import type { RefundSagaInput } from '../../src/contracts/refund';
import { TASK_QUEUE_ROLES, taskQueues, transactionStatusQuery, type TransactionStatus } from '../../src/contracts/transaction';
import { createWorkers } from '../../src/worker';
import { registerSearchAttributes } from '../../src/temporal/search-attributes';
import { testEnv, timeSkippingServer } from './env';
import { eventually } from './eventually';
import { uniquePrefix, withWorkers } from './workers';

export type Calls = string[];
export type Overrides = { [G in keyof Activities]?: Partial<Activities[G]> };

/** The time-skipping test server (the one scripts/install-temporal.sh installed), with our search attributes. */
export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: timeSkippingServer });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** An order saga's input as the edge would start it for alice: one course twice at 24.50, paid with `token`. */
export function orderSagaInput(key: string, token = 'tok_visa'): OrderSagaInput {
  return {
    customerId: 'alice',
    idempotencyKey: key,
    order: { items: [{ sku: 'course-v1:DemoX+2026', quantity: 2, unitPrice: '24.50' }], currency: 'USD', paymentMethod: { token } },
    fingerprint: 'f',
    startToken: 's',
    requestId: 'req-1',
    receivedAt: '2026-11-22T00:00:00.000Z',
  };
}

/** A refund saga's input for alice's order `orderKey`, under the refund's own key. */
export function refundSagaInput(refundKey: string, orderKey = 'order-1'): RefundSagaInput {
  return { customerId: 'alice', idempotencyKey: refundKey, orderKey, orderWorkflowId: orderWorkflowId('alice', orderKey), fingerprint: 'f', startToken: 's', requestId: 'r', receivedAt: '2026-11-22T00:00:00.000Z' };
}

/** The final status a failed saga carries in its failure's details. */
export function finalStatusOf(err: unknown): OrderStatus {
  return (((err as WorkflowFailedError).cause as ApplicationFailure)?.details?.[0] ?? {}) as OrderStatus;
}

/** Stub activities that record every call (name and idempotency key) and succeed unless overridden. */
export function stubActivities(calls: Calls, overrides: Overrides = {}): Activities {
  const record = <A extends { idempotencyKey: string }>(name: string, result: unknown) => async (input: A) => {
    calls.push(`${name} ${input.idempotencyKey}`);
    return result as never;
  };
  return {
    legacyEcommerce: {
      createOrder: record('createOrder', { orderNumber: 'EC-1', totalMinor: 4900 }),
      completeOrder: record('completeOrder', { status: 'completed' }),
      cancelOrder: record('cancelOrder', { outcome: 'cancelled' }),
      checkOrder: async () => ({ completedBefore: false }),
      markOrderRefunded: record('markOrderRefunded', { outcome: 'refunded' }),
      ...overrides.legacyEcommerce,
    },
    payments: {
      chargePayment: record('chargePayment', { chargeId: 'ch_1', amountMinor: 4900, status: 'succeeded' }),
      refundPayment: record('refundPayment', { outcome: 'refunded' }),
      checkCharge: async () => ({ status: 'succeeded' }),
      ...overrides.payments,
    },
    fulfilment: {
      grantAccess: record('grantAccess', { enrollmentId: 'enr_1' }),
      revokeAccess: record('revokeAccess', { outcome: 'revoked' }),
      restoreAccess: record('restoreAccess', { outcome: 'restored' }),
      checkAccess: async () => ({ status: 'active' }),
      ...overrides.fulfilment,
    },
  };
}

/**
 * A downstream call the test holds open: the stub `hold()`s (which tells `reached`) until the test
 * lets it `finish()` — so that something can land while the call is under way.
 */
export function heldCall(): { reached: Promise<void>; hold: () => Promise<void>; finish: () => void } {
  let arrive!: () => void;
  let finish!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const released = new Promise<void>((resolve) => (finish = resolve));
  return { reached, finish, hold: () => (arrive(), released) };
}

/** Runs one workflow to its end on fresh workers (every queue) with the given activities. */
export async function runWorkflow(env: TestWorkflowEnvironment, type: string, workflowId: string, input: unknown, activities: Activities): Promise<unknown> {
  const outcome = await driveWorkflow(env, type, workflowId, input, activities, async () => undefined);
  if (outcome instanceof Error) throw outcome;
  return outcome;
}

/**
 * Starts a workflow on fresh workers, lets `drive` interact with it (signals, updates, queries),
 * then returns its result, or the error it failed with.
 */
export async function driveWorkflow(
  env: TestWorkflowEnvironment,
  type: string,
  workflowId: string,
  input: unknown,
  activities: Activities,
  drive: (handle: WorkflowHandle) => Promise<void>,
): Promise<unknown> {
  const prefix = uniquePrefix('unit');
  const workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueuePrefix: prefix,
    roles: TASK_QUEUE_ROLES,
    activities,
    workflowBundle: { codePath: testEnv().bundlePath },
    // The workers speak whatever the environment's client speaks (e.g. an encrypting data converter).
    dataConverter: env.client.options.dataConverter,
  });
  return withWorkers(workers, async () => {
    const handle = await env.client.workflow.start(type, { taskQueue: taskQueues(prefix).orders, workflowId, args: [input] });
    await drive(handle);
    return handle.result().catch((e: unknown) => e);
  });
}

/** Waits (polling the status query) until the saga is parked, and returns its status. */
export function parkedStatus(handle: WorkflowHandle): Promise<TransactionStatus> {
  return eventually(async () => {
    const status = await handle.query(transactionStatusQuery);
    return status.status === 'needs_attention' ? status : undefined;
  }, 10_000, 50);
}

export async function failureOf(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

/** An activity that fails for good with a business type. */
export const nonRetryable = (type: string, message = type) => async () => {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
};

/** An activity whose downstream definitely refused (a 4xx it records), as activities/call-downstream.ts reports it. */
export const refused = (type: string, message = type) => async (): Promise<never> => {
  throw ApplicationFailure.create({ type, message, nonRetryable: true, details: [{ service: 'sim', status: 422, code: type, reason: message, refused: true }] });
};
