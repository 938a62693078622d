/**
 * orderSaga on the time-skipping test server with stubbed activities: the happy path, each
 * compensation branch and its order, non-retryable short-circuits, transient retries, and a
 * compensation failure that is reported rather than swallowed.
 */
import { ActivityFailure, ApplicationFailure, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ORDER_STEPS, TASK_QUEUE_ROLES, decideUpdate, transactionStatusQuery, webhookEventSignal, orderWorkflowId, taskQueues, type OrderStatus } from '../../src/contracts/order';
import type { Activities } from '../../src/activities';
import { createWorkers } from '../../src/worker';
import { eventually } from '../support/eventually';
import { testEnv } from '../support/env';
import { uniquePrefix, withWorkers } from '../support/workers';
import { driveWorkflow, failureOf, finalStatusOf, heldCall, nonRetryable, orderSagaInput, parkedStatus, refused, runWorkflow, stubActivities, type Calls, timeSkippingEnvironment } from '../support/saga-harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

const input = (key: string) => orderSagaInput(key);

/** Polls the status query until the saga is parked at `step` (a step or its compensation). */
function eventuallyParkedAt(handle: import('@temporalio/client').WorkflowHandle, step: string): Promise<true> {
  return eventually(async () => ((await handle.query(transactionStatusQuery)).parked?.step === step ? true : undefined), 10_000, 25);
}

const finalStatus = finalStatusOf;

function runSaga(key: string, activities: Activities): Promise<OrderStatus> {
  return runWorkflow(env, 'orderSaga', orderWorkflowId('alice', key), input(key), activities) as Promise<OrderStatus>;
}

test('a successful order runs every step once, in order, with keys derived from the workflow ID, the step and the epoch', async () => {
  const calls: Calls = [];
  const result = await runSaga('happy', stubActivities(calls));
  const id = orderWorkflowId('alice', 'happy');
  expect(calls).toEqual([`createOrder ${id}/createOrder/1`, `chargePayment ${id}/chargePayment/1`, `grantAccess ${id}/grantAccess/1`, `completeOrder ${id}/completeOrder/1`]);
  expect(result.status).toBe('completed');
  expect(result).toMatchObject({ attempt: 1, reference: id });
  expect(result.order).toEqual({ orderNumber: 'EC-1', chargeId: 'ch_1', enrollmentId: 'enr_1', total: { amount: '49.00', currency: 'USD' }, reference: id });
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
  // WorkflowFailedError → ApplicationFailure(PaymentDeclined, saga summary) → the step's own ApplicationFailure(PaymentDeclined):
  // on the fast path the local activity's failure comes as is; from a queue it is wrapped in an ActivityFailure.
  const summary = err.cause as ApplicationFailure;
  expect(summary).toBeInstanceOf(ApplicationFailure);
  expect(summary.type).toBe('PaymentDeclined');
  const step = summary.cause instanceof ActivityFailure ? summary.cause.cause : summary.cause;
  expect(step).toBeInstanceOf(ApplicationFailure);
  expect(step).toMatchObject({ type: 'PaymentDeclined', message: 'Your card was declined.' });
  const status = summary.details?.[0] as OrderStatus;
  expect(status.status).toBe('compensated');
  expect(status.failure).toEqual({ step: 'chargePayment', type: 'PaymentDeclined', message: 'Your card was declined.' });
  expect(status.steps.find((s) => s.name === 'grantAccess')?.state).toBe('pending');
});

test('a failure after money moved parks the saga; an operator abort then revokes, refunds and cancels, newest first', async () => {
  const calls: Calls = [];
  const id = orderWorkflowId('alice', 'late-failure');
  const err = await driveWorkflow(env, 'orderSaga', id, input('late-failure'), stubActivities(calls, { legacyEcommerce: { completeOrder: refused('OrderRejected') } }), async (handle) => {
    const parked = await parkedStatus(handle);
    expect(parked.parked).toMatchObject({ step: 'completeOrder', kind: 'step', error: { type: 'OrderRejected' } });
    const refused = await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', operator: 'ann' }] }).catch((e: unknown) => e);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'ReasonRequired' });
    // What the CLI or the Web UI can send (no schema in front of them): refused whole, nothing recorded.
    for (const bad of [{ action: 'retry', operator: { x: 1 } }, { action: 'retry', operator: 'ann', reason: 42 }, { action: 'retry', operator: 'ann', extra: true }, { action: 'retry', operator: 'x'.repeat(201) }]) {
      const invalid = await handle.executeUpdate(decideUpdate, { args: [bad as never] }).catch((e: unknown) => e);
      expect((invalid as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidDecision' });
    }
    expect((await handle.query(transactionStatusQuery)).decisions ?? []).toEqual([]);
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'customer asked to cancel', operator: 'ann' }] });
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const summary = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(summary.type).toBe('OrderRejected');
  expect(calls.slice(3)).toEqual([`revokeAccess ${id}/revokeAccess/1`, `refundPayment ${id}/refundPayment/1`, `cancelOrder ${id}/cancelOrder/1`]);
  expect((summary.details?.[0] as OrderStatus).decisions).toEqual([expect.objectContaining({ action: 'abort', step: 'completeOrder', operator: 'ann', reason: 'customer asked to cancel' })]);
});

test("an operator's Cancel (Web UI / CLI) of a parked order compensates it and still reports what was undone", async () => {
  const calls: Calls = [];
  const id = orderWorkflowId('alice', 'cancelled-parked');
  const err = await driveWorkflow(env, 'orderSaga', id, input('cancelled-parked'), stubActivities(calls, { fulfilment: { grantAccess: nonRetryable('AccessRejected', 'course retired') } }), async (handle) => {
    await parkedStatus(handle);
    await handle.cancel();
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const summary = (err as WorkflowFailedError).cause as ApplicationFailure;
  const status = summary.details?.[0] as OrderStatus;
  expect(status).toMatchObject({ status: 'compensated', customerId: 'alice', failure: { step: 'grantAccess' } });
  expect(status.parked).toBeUndefined();
  expect(status.steps.map((s) => [s.name, s.state])).toEqual([['createOrder', 'compensated'], ['chargePayment', 'compensated'], ['grantAccess', 'compensated'], ['completeOrder', 'pending']]);
  expect(calls.map((c) => c.split(' ')[0]).slice(-3)).toEqual(['revokeAccess', 'refundPayment', 'cancelOrder']);
});

test("an operator's Cancel while a downstream call is under way never abandons it: the saga runs on to its next wait, here its end, and says the Cancel came too late", async () => {
  const calls: Calls = [];
  const grant = heldCall();
  const activities = stubActivities(calls, {
    fulfilment: {
      // The downstream commits the grant only after the Cancel has arrived.
      grantAccess: async (i) => {
        await grant.hold();
        calls.push(`granted ${i.idempotencyKey}`);
        return { enrollmentId: 'enr_1' };
      },
    },
  });
  const id = orderWorkflowId('alice', 'cancel-mid-call');
  const result = await driveWorkflow(env, 'orderSaga', id, input('cancel-mid-call'), activities, async (handle) => {
    await grant.reached;
    await handle.cancel();
    grant.finish();
  });
  // Before: the grant was abandoned and the undo ran before it answered; or (a workflow task lost to
  // the Cancel) its retry cancelled after the first step and never learnt of the grant at all.
  expect(result).toMatchObject({ status: 'completed', order: { enrollmentId: 'enr_1' }, cancelRefused: { reason: expect.stringContaining('too late') } });
  expect(calls.map((c) => c.split(' ')[0])).not.toContain('revokeAccess');
  expect(calls.map((c) => c.split(' ')[0])).not.toContain('refundPayment');
});

test("an operator's Cancel while the order waits for the processor's webhook acts at once: the pending charge is undone", async () => {
  const calls: Calls = [];
  const activities = stubActivities(calls, { payments: { chargePayment: async (i) => (calls.push(`chargePayment ${i.idempotencyKey}`), { chargeId: 'ch_p', amountMinor: 4900, status: 'pending' }) } });
  const err = await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'cancel-waiting'), input('cancel-waiting'), activities, async (handle) => {
    await eventually(async () => ((await handle.query(transactionStatusQuery)).steps.find((s) => s.name === 'chargePayment')?.state === 'running' && calls.length >= 2 ? true : undefined));
    await handle.cancel();
  });
  const status = finalStatus(err);
  expect(status).toMatchObject({ status: 'compensated', failure: { step: 'chargePayment' } });
  expect(calls.map((c) => c.split(' ')[0]).slice(-2)).toEqual(['refundPayment', 'cancelOrder']);
});

test("a charge whose call ended without an answer is looked for again after its undo found nothing: one the processor commits late is still refunded", async () => {
  const calls: Calls = [];
  let looks = 0;
  const activities = stubActivities(calls, {
    // Its retries ran out on outages; the processor was in fact still working on the last one.
    payments: {
      chargePayment: nonRetryable('DownstreamUnavailable', 'payments: answered 503'),
      refundPayment: async (i) => {
        calls.push(`refundPayment ${i.idempotencyKey}`);
        looks += 1;
        return { outcome: looks === 1 ? 'not_charged' : 'refunded' };
      },
    },
  });
  const err = await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'late-charge'), input('late-charge'), activities, async () => undefined);
  const status = finalStatus(err);
  expect(status.status).toBe('compensated');
  expect(status.steps.find((s) => s.name === 'chargePayment')).toMatchObject({ state: 'compensated', compensationOutcome: 'refunded' });
  // Before: one look, "not_charged", and the late charge stayed.
  expect(calls.filter((c) => c.startsWith('refundPayment'))).toHaveLength(2);
});

test("a retry or skip whose look at the earlier steps fails parks again: nothing moves on unchecked, and nothing is undone", async () => {
  const calls: Calls = [];
  let looks = 0;
  const activities = stubActivities(calls, {
    fulfilment: { grantAccess: nonRetryable('AccessRejected') },
    payments: {
      checkCharge: async () => {
        looks += 1;
        if (looks === 1) throw ApplicationFailure.create({ type: 'DownstreamUnavailable', message: 'payments: answered 503', nonRetryable: true });
        return { status: 'succeeded' };
      },
    },
  });
  const result = await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'check-fails'), input('check-fails'), activities, async (handle) => {
    await parkedStatus(handle);
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'enrolled by hand', operator: 'ann' }] });
    // Before: the check's failure failed the step, and the saga undid everything (refund with the hand-made access kept).
    await eventually(async () => ((await handle.query(transactionStatusQuery)).parked?.error.type === 'CheckFailed' ? true : undefined), 10_000, 25);
    // What an abort would undo could not be looked at (the order may have completed and been refunded): refused.
    const abort = await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'give up', operator: 'ann' }] }).catch((e: unknown) => e);
    expect((abort as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'AbortNotSafe', message: expect.stringContaining('could not be looked at') });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'enrolled by hand', operator: 'ann' }] });
  });
  expect(result).toMatchObject({ status: 'completed', order: { enrollmentId: 'skipped-by-operator' } });
  expect(calls.map((c) => c.split(' ')[0])).not.toContain('refundPayment');
});

test('a late charge found on the second look whose refund is refused parks the compensation for support: never "compensated" with the charge kept', async () => {
  const calls: Calls = [];
  let looks = 0;
  const activities = stubActivities(calls, {
    payments: {
      chargePayment: nonRetryable('DownstreamUnavailable', 'payments: answered 503'),
      refundPayment: async () => {
        looks += 1;
        if (looks === 1) return { outcome: 'not_charged' };
        throw ApplicationFailure.create({ type: 'CompensationRejected', message: 'charge is disputed', nonRetryable: true });
      },
    },
  });
  const err = await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'late-charge-refused'), input('late-charge-refused'), activities, async (handle) => {
    // The first look found nothing; the second comes a minute later (the test server skips time only while awaited).
    await eventually(async () => ((await handle.query(transactionStatusQuery)).steps.find((s) => s.name === 'chargePayment')?.compensationOutcome?.includes('looking again') ? true : undefined), 10_000, 25);
    await env.sleep('61s');
    await eventuallyParkedAt(handle, 'chargePayment');
    expect((await handle.query(transactionStatusQuery)).parked).toMatchObject({ kind: 'compensation', error: { type: 'CompensationRejected' } });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'refunded in the processor dashboard', operator: 'ann' }] });
  });
  const status = finalStatus(err);
  expect(status.status).toBe('compensated');
  expect(status.steps.find((s) => s.name === 'chargePayment')?.compensationOutcome).toContain('skipped by ann');
});

test('after support skipped the grant (done by hand), an abort is refused: its undo would find nothing of ours and leave the access with a refund', async () => {
  const calls: Calls = [];
  const activities = stubActivities(calls, { fulfilment: { grantAccess: nonRetryable('AccessRejected') }, legacyEcommerce: { completeOrder: refused('OrderRejected') } });
  const result = await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'skip-then-abort'), input('skip-then-abort'), activities, async (handle) => {
    await parkedStatus(handle);
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'enrolled by hand', operator: 'ann' }] });
    await eventuallyParkedAt(handle, 'completeOrder');
    const refused = await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'give up', operator: 'ann' }] }).catch((e: unknown) => e);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'AbortNotSafe', message: expect.stringContaining('grantAccess') });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'completed in the legacy admin', operator: 'ann' }] });
  });
  expect((result as OrderStatus).status).toBe('completed');
  expect(calls.map((c) => c.split(' ')[0])).not.toContain('refundPayment');
});

test("a decision on a compensation parked after support's Cancel is applied and answered as applied", async () => {
  const activities = stubActivities([], { fulfilment: { grantAccess: nonRetryable('AccessRejected') }, payments: { refundPayment: nonRetryable('CompensationRejected', 'processor refuses') } });
  const err = await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'cancel-then-decide'), input('cancel-then-decide'), activities, async (handle) => {
    await parkedStatus(handle);
    await handle.cancel();
    await eventuallyParkedAt(handle, 'chargePayment');
    expect(await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'refunded in the processor dashboard', operator: 'ann' }] })).toMatchObject({ accepted: true, action: 'skip' });
  });
  expect(finalStatus(err).status).toBe('compensated');
});

test('a grant that fails after the charge can be retried by an operator, and the order completes', async () => {
  const calls: Calls = [];
  let grants = 0;
  const activities = stubActivities(calls, {
    fulfilment: {
      grantAccess: async () => {
        grants += 1;
        if (grants === 1) throw ApplicationFailure.create({ type: 'AccessRejected', message: 'course not open yet', nonRetryable: true });
        return { enrollmentId: 'enr_2' };
      },
    },
  });
  const result = (await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'retry-grant'), input('retry-grant'), activities, async (handle) => {
    await parkedStatus(handle);
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', operator: 'ann' }] });
  })) as OrderStatus;
  expect(result).toMatchObject({ status: 'completed', order: { enrollmentId: 'enr_2' } });
  expect(result.decisions).toHaveLength(1);
  expect(calls.map((c) => c.split(' ')[0])).not.toContain('refundPayment');
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
        return { chargeId: 'ch_9', amountMinor: 4900, status: 'succeeded' as const };
      },
    },
  });
  const result = await runSaga('transient', activities);
  expect(result.status).toBe('completed');
  expect(attempts).toBe(3);
  expect(new Set(keys).size).toBe(1);
});

test('a compensation that fails for good parks; abort is refused (it would stay undone), and the other compensations still run', async () => {
  const calls: Calls = [];
  const activities = stubActivities(calls, {
    payments: { chargePayment: nonRetryable('PaymentDeclined') },
    legacyEcommerce: { cancelOrder: nonRetryable('CompensationRejected', 'order locked') },
  });
  const err = await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'compensation-fails'), input('compensation-fails'), activities, async (handle) => {
    const parked = await parkedStatus(handle);
    expect(parked.parked).toMatchObject({ step: 'createOrder', kind: 'compensation', error: { type: 'CompensationRejected' } });
    const refused = await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'will cancel in the legacy admin', operator: 'ann' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'AbortNotSafe', message: expect.stringContaining('cancelOrder') });
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'cancelled in the legacy admin', operator: 'ann' }] });
  });
  const summary = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(summary.type).toBe('PaymentDeclined');
  expect(calls.map((c) => c.split(' ')[0])).toEqual(['createOrder', 'refundPayment']);
  const status = summary.details?.[0] as OrderStatus;
  expect(status.steps.find((s) => s.name === 'createOrder')).toMatchObject({ state: 'compensated', compensationOutcome: 'skipped by ann: cancelled in the legacy admin' });
  expect(status.status).toBe('compensated');
});

test('a parked compensation skipped by an operator (done by hand) ends compensated, with the reason recorded', async () => {
  const calls: Calls = [];
  const activities = stubActivities(calls, {
    legacyEcommerce: { completeOrder: refused('OrderRejected') },
    fulfilment: { revokeAccess: nonRetryable('CompensationRejected', 'enrolment locked') },
  });
  const err = await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'skip-revoke'), input('skip-revoke'), activities, async (handle) => {
    await parkedStatus(handle); // completeOrder failed
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'legacy refuses', operator: 'ann' }] });
    await parkedStatus(handle); // revokeAccess failed
    await handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'revoked in the LMS by hand', operator: 'bob' }] });
  });
  const status = finalStatus(err);
  expect(status.status).toBe('compensated');
  expect(status.steps.find((s) => s.name === 'grantAccess')?.compensationOutcome).toBe('skipped by bob: revoked in the LMS by hand');
  expect(calls.map((c) => c.split(' ')[0]).slice(-2)).toEqual(['refundPayment', 'cancelOrder']);
});

test('a decision when nothing is parked is rejected', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const activities = stubActivities([], { fulfilment: { grantAccess: async () => (await released, { enrollmentId: 'enr_1' }) } });
  await driveWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'not-parked'), input('not-parked'), activities, async (handle) => {
    const err = await handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', operator: 'ann' }] }).catch((e: unknown) => e);
    expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'NotParked' });
    release();
  });
});

describe('attempt epochs: a new key only when a person decides the effect must happen again', () => {
  test("an operator's retry of a refused grant uses a new epoch, which the downstream has no refusal recorded for", async () => {
    const calls: Calls = [];
    const keys: string[] = [];
    const activities = stubActivities(calls, {
      fulfilment: {
        grantAccess: async (i) => {
          keys.push(i.idempotencyKey);
          // A deduplicating downstream answers a key's first answer for ever: the first key stays refused.
          if (i.idempotencyKey.endsWith('/1')) return refused('AccessRejected', 'course not open yet')();
          return { enrollmentId: 'enr_2' };
        },
      },
    });
    const id = orderWorkflowId('alice', 'epoch-retry');
    const result = (await driveWorkflow(env, 'orderSaga', id, input('epoch-retry'), activities, async (handle) => {
      const parked = await parkedStatus(handle);
      expect(parked.steps.find((s) => s.name === 'grantAccess')).toMatchObject({ epoch: '1', error: { type: 'AccessRejected' } });
      await handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', operator: 'ann' }] });
    })) as OrderStatus;
    expect(keys).toEqual([`${id}/grantAccess/1`, `${id}/grantAccess/1.2`]);
    expect(result).toMatchObject({ status: 'completed', order: { enrollmentId: 'enr_2' } });
    expect(result.steps.find((s) => s.name === 'grantAccess')).toMatchObject({ state: 'completed', epoch: '1.2' });
  });

  test('a retry of a step that failed without a definite refusal keeps its key: its effect may have happened', async () => {
    const keys: string[] = [];
    let grants = 0;
    const activities = stubActivities([], {
      fulfilment: {
        grantAccess: async (i) => {
          keys.push(i.idempotencyKey);
          grants += 1;
          if (grants === 1) throw ApplicationFailure.create({ type: 'DownstreamContractViolation', message: 'fulfilment answered 200 with a body we cannot read', nonRetryable: true });
          return { enrollmentId: 'enr_1' };
        },
      },
    });
    const id = orderWorkflowId('alice', 'epoch-keep');
    await driveWorkflow(env, 'orderSaga', id, input('epoch-keep'), activities, async (handle) => {
      await parkedStatus(handle);
      await handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', operator: 'ann' }] });
    });
    expect(keys).toEqual([`${id}/grantAccess/1`, `${id}/grantAccess/1`]);
  });

  test('two decisions at once: one is applied, the other rejected, and only one is recorded', async () => {
    const activities = stubActivities([], { fulfilment: { grantAccess: refused('AccessRejected') } });
    const id = orderWorkflowId('alice', 'two-decisions');
    let outcomes: PromiseSettledResult<unknown>[] = [];
    const err = await driveWorkflow(env, 'orderSaga', id, input('two-decisions'), activities, async (handle) => {
      await parkedStatus(handle);
      outcomes = await Promise.allSettled([
        handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'refund agreed', operator: 'ann' }] }),
        handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', reason: 'granted by hand', operator: 'bob' }] }),
      ]);
    });
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(['DecisionInProgress', 'NotParked']).toContain(((rejected!.reason as WorkflowUpdateFailedError).cause as ApplicationFailure).type);
    // Whichever won, the saga ended by it: compensated after the abort, completed after the skip.
    const status = err instanceof WorkflowFailedError ? ((err.cause as ApplicationFailure).details?.[0] as OrderStatus) : (err as OrderStatus);
    expect(status.decisions).toHaveLength(1);
  });

  test('a step that finds its attempt already undone (a reset of a compensated run) finishes the undo and runs a new attempt', async () => {
    const calls: Calls = [];
    const id = orderWorkflowId('alice', 'undone');
    const activities = stubActivities(calls, {
      legacyEcommerce: {
        createOrder: async (i) => {
          calls.push(`createOrder ${i.idempotencyKey} ${i.reference}`);
          if (i.idempotencyKey.endsWith('/1')) throw ApplicationFailure.create({ type: 'AttemptUndone', message: 'order EC-1 is cancelled', nonRetryable: true });
          return { orderNumber: 'EC-2', totalMinor: 4900 };
        },
      },
    });
    const result = await runSaga('undone', activities);
    expect(calls).toEqual([
      `createOrder ${id}/createOrder/1 ${id}`,
      `cancelOrder ${id}/cancelOrder/1`,
      `createOrder ${id}/createOrder/2 ${id}#2`,
      `chargePayment ${id}/chargePayment/2`,
      `grantAccess ${id}/grantAccess/2`,
      `completeOrder ${id}/completeOrder/2`,
    ]);
    expect(result).toMatchObject({ status: 'completed', attempt: 2, reference: `${id}#2`, order: { orderNumber: 'EC-2', reference: `${id}#2` } });
    expect(result.undoneAttempts).toEqual([expect.objectContaining({ attempt: 1, reference: id })]);
  });

  test("an operator's Cancel while an undone attempt is being undone stops the saga there: no next attempt places, charges or grants anything", async () => {
    const calls: Calls = [];
    const id = orderWorkflowId('alice', 'undone-then-cancelled');
    const undo = heldCall();
    const activities = stubActivities(calls, {
      legacyEcommerce: {
        createOrder: async (i) => {
          calls.push(`createOrder ${i.idempotencyKey}`);
          if (i.idempotencyKey.endsWith('/1')) throw ApplicationFailure.create({ type: 'AttemptUndone', message: 'order EC-1 is cancelled', nonRetryable: true });
          return { orderNumber: 'EC-2', totalMinor: 4900 };
        },
        // The Cancel arrives while the undone attempt's own undo is still under way.
        cancelOrder: async (i) => {
          calls.push(`cancelOrder ${i.idempotencyKey}`);
          await undo.hold();
          return { outcome: 'not_found' };
        },
      },
    });
    const err = await driveWorkflow(env, 'orderSaga', id, input('undone-then-cancelled'), activities, async (handle) => {
      await undo.reached;
      await handle.cancel();
      undo.finish();
    });
    // Before: attempt 2 placed a new order, charged and granted, and the Cancel was recorded as too late.
    expect(calls).toEqual([`createOrder ${id}/createOrder/1`, `cancelOrder ${id}/cancelOrder/1`]);
    const status = finalStatus(err);
    expect(status).toMatchObject({ status: 'compensated', attempt: 1, failure: { step: 'createOrder', type: 'CancelledFailure' } });
    expect(status.undoneAttempts).toEqual([expect.objectContaining({ attempt: 1, reference: id })]);
    expect(status.cancelRefused).toBeUndefined();
  });

  test('a support replay (attempt 2 in the input) uses epoch 2 keys and the #2 reference from the first step', async () => {
    const calls: Calls = [];
    const id = orderWorkflowId('alice', 'replayed');
    const activities = stubActivities(calls, { payments: { chargePayment: async (i) => (calls.push(`chargePayment ${i.idempotencyKey} ${i.reference}`), { chargeId: 'ch_2', amountMinor: 4900, status: 'succeeded' as const }) } });
    const result = (await runWorkflow(env, 'orderSaga', id, { ...input('replayed'), attempt: 2 }, activities)) as OrderStatus;
    expect(calls).toContain(`chargePayment ${id}/chargePayment/2 ${id}#2`);
    expect(calls[0]).toBe(`createOrder ${id}/createOrder/2`);
    expect(result).toMatchObject({ attempt: 2, reference: `${id}#2` });
  });

  test('our own credentials refused: the step waits and retries with the same key, spends no budget and compensates nothing', async () => {
    const calls: Calls = [];
    const keys: string[] = [];
    const activities = stubActivities(calls, {
      fulfilment: {
        grantAccess: async (i) => {
          keys.push(i.idempotencyKey);
          if (keys.length <= 3) throw ApplicationFailure.create({ type: 'DownstreamAuthFailed', message: 'fulfilment refused our credentials (HTTP 401)', nonRetryable: true });
          return { enrollmentId: 'enr_1' };
        },
      },
    });
    const result = await runSaga('auth', activities);
    expect(result.status).toBe('completed');
    expect(new Set(keys)).toEqual(new Set([`${orderWorkflowId('alice', 'auth')}/grantAccess/1`]));
    expect(keys).toHaveLength(4);
    expect(calls.map((c) => c.split(' ')[0])).not.toContain('refundPayment');
  });
});

describe('the fast path: forward steps as local activities first, their downstream queue on a retryable failure', () => {
  const where = (log: string[]) => async (i: { idempotencyKey: string }) => {
    log.push(`${Context.current().info.isLocal ? 'local' : 'queue'} ${i.idempotencyKey}`);
  };

  test('on the happy path every forward step runs locally, compensations never do', async () => {
    const log: string[] = [];
    const record = where(log);
    const activities = stubActivities([], {
      legacyEcommerce: { createOrder: async (i) => (await record(i), { orderNumber: 'EC-1', totalMinor: 4900 }), completeOrder: async (i) => (await record(i), { status: 'completed' }) },
      payments: { chargePayment: async (i) => (await record(i), { chargeId: 'ch_1', amountMinor: 4900, status: 'succeeded' as const }) },
      fulfilment: { grantAccess: async (i) => (await record(i), { enrollmentId: 'enr_1' }), revokeAccess: async (i) => (await record(i), { outcome: 'revoked' as const }) },
    });
    expect((await runSaga('fast', activities)).status).toBe('completed');
    expect(log.map((l) => l.split(' ')[0])).toEqual(['local', 'local', 'local', 'local']);
  });

  test('a retryable local failure hands the step to its queue with the same key; a refusal does not', async () => {
    const log: string[] = [];
    const record = where(log);
    const activities = stubActivities([], {
      payments: {
        chargePayment: async (i) => {
          await record(i);
          if (Context.current().info.isLocal) throw ApplicationFailure.create({ type: 'DownstreamUnavailable', message: 'payments answered 503', nonRetryable: false });
          return { chargeId: 'ch_1', amountMinor: 4900, status: 'succeeded' as const };
        },
      },
      fulfilment: { grantAccess: async (i) => (await record(i), refused('AccessRejected')()) },
    });
    const id = orderWorkflowId('alice', 'fallback');
    await driveWorkflow(env, 'orderSaga', id, input('fallback'), activities, async (handle) => {
      await parkedStatus(handle);
      await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', reason: 'refused', operator: 'ann' }] });
    });
    expect(log).toEqual([`local ${id}/chargePayment/1`, `queue ${id}/chargePayment/1`, `local ${id}/grantAccess/1`]);
  });

  test('with the fast path off (FAST_PATH=false at the edge) every step runs on its queue', async () => {
    const log: string[] = [];
    const record = where(log);
    const activities = stubActivities([], { payments: { chargePayment: async (i) => (await record(i), { chargeId: 'ch_1', amountMinor: 4900, status: 'succeeded' as const }) } });
    await runWorkflow(env, 'orderSaga', orderWorkflowId('alice', 'slow-path'), { ...input('slow-path'), fastPath: false }, activities);
    expect(log).toEqual([`queue ${orderWorkflowId('alice', 'slow-path')}/chargePayment/1`]);
  });
});

describe('asynchronous payments (webhook signals)', () => {
  const succeeded = (eventId: string) => ({ source: 'payments', eventId, type: 'payment.succeeded', receivedAt: '2026-11-22T00:00:01.000Z', objectId: 'ch_1' });

  async function run(key: string, activities: Activities, drive: (handle: import('@temporalio/client').WorkflowHandle) => Promise<void>) {
    const prefix = uniquePrefix('async');
    const workers = await createWorkers({ connection: env.nativeConnection, namespace: 'default', taskQueuePrefix: prefix, roles: TASK_QUEUE_ROLES, activities, workflowBundle: { codePath: testEnv().bundlePath } });
    return withWorkers(workers, async () => {
      const handle = await env.client.workflow.start('orderSaga', { taskQueue: taskQueues(prefix).orders, workflowId: orderWorkflowId('alice', key), args: [input(key)] });
      await drive(handle);
      return handle.result().then(
        (r) => r as OrderStatus,
        (e: unknown) => e,
      );
    });
  }

  test('an event that arrives before the charge call returns is kept; a redelivery has no effect', async () => {
    const calls: Calls = [];
    const charge = heldCall();
    const activities = stubActivities(calls, {
      payments: {
        chargePayment: async () => {
          await charge.hold();
          return { chargeId: 'ch_1', amountMinor: 4900, status: 'pending' as const };
        },
        // The processor settled it, as the event says (the saga asks before it acts on an event).
        checkCharge: async () => ({ status: 'succeeded', chargeId: 'ch_1' }),
      },
    });
    const result = (await run('early-event', activities, async (handle) => {
      await handle.signal(webhookEventSignal, succeeded('evt_1'));
      await handle.signal(webhookEventSignal, succeeded('evt_1'));
      charge.finish();
    })) as OrderStatus;
    expect(result.status).toBe('completed');
    expect(result.events).toEqual([expect.objectContaining({ eventId: 'evt_1', effect: expect.stringMatching(/^(applied|held)/) })]);
  });

  test('events held until the charge call answered never stay "held": one about another charge is ignored, one about ours is settled by the call itself', async () => {
    const charge = heldCall();
    const activities = stubActivities([], {
      payments: {
        chargePayment: async () => {
          await charge.hold();
          return { chargeId: 'ch_1', amountMinor: 4900, status: 'succeeded' as const };
        },
      },
    });
    const result = (await run('held-events-resolved', activities, async (handle) => {
      await charge.reached;
      await handle.signal(webhookEventSignal, { ...succeeded('evt_other_charge'), objectId: 'ch_someone_else' });
      await handle.signal(webhookEventSignal, succeeded('evt_ours'));
      await eventually(async () => ((await handle.query(transactionStatusQuery)).events?.length === 2 ? true : undefined), 10_000, 25);
      charge.finish();
    })) as OrderStatus;
    expect(result.status).toBe('completed');
    // Before: both stayed "held: the charge call has not answered yet" for good.
    expect(result.events?.map((e) => [e.eventId, e.effect])).toEqual([
      ['evt_other_charge', 'ignored: it is about charge ch_someone_else, not this order\'s ch_1'],
      ['evt_ours', 'ignored: the charge call itself answered that the charge succeeded'],
    ]);
  });

  test('a payment event about another charge (or sent before any charge existed) never pays for the order', async () => {
    const activities = stubActivities([], { payments: { chargePayment: async () => ({ chargeId: 'ch_1', amountMinor: 4900, status: 'pending' as const }) } });
    const err = await run('wrong-charge', activities, async (handle) => {
      await handle.signal(webhookEventSignal, { ...succeeded('evt_other'), objectId: 'ch_someone_else' });
    });
    // No outcome for ch_1 ever came: the saga timed out waiting and compensated, access never granted.
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'PaymentTimedOut' });
  });

  test('only the payment processor settles a charge: a partner source, or an event naming no charge, never pays (or declines)', async () => {
    const calls: Calls = [];
    const activities = stubActivities(calls, { payments: { chargePayment: async () => ({ chargeId: 'ch_1', amountMinor: 4900, status: 'pending' as const }) } });
    const err = await run('partner-pays', activities, async (handle) => {
      // What POST /v1/webhooks/fulfilment hands over for {"type":"payment.succeeded","data":{"reference":…}}: a partner's word, no charge.
      await handle.signal(webhookEventSignal, { source: 'fulfilment', eventId: 'msg_1', type: 'payment.succeeded', receivedAt: '2026-11-22T00:00:01.000Z' });
      await handle.signal(webhookEventSignal, { source: 'fulfilment', eventId: 'msg_2', type: 'payment.failed', receivedAt: '2026-11-22T00:00:02.000Z' });
      // A processor event without the charge it is about cannot be told from one about another charge.
      const { objectId: _, ...noCharge } = succeeded('evt_no_charge');
      await handle.signal(webhookEventSignal, noCharge);
      const status = await handle.query(transactionStatusQuery);
      expect(status.events?.map((e) => e.effect)).toEqual([expect.stringMatching(/^ignored: only the payment processor/), expect.stringMatching(/^ignored: only the payment processor/), expect.stringMatching(/^ignored: only the payment processor/)]);
    });
    // No word from the processor about ch_1: the saga waited, timed out and undid the pending charge; access never granted.
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'PaymentTimedOut' });
    expect(calls.some((c) => c.startsWith('grantAccess'))).toBe(false);
  });

  test('with no outcome before the timeout, the processor is asked; a charge still pending there fails the saga as PaymentTimedOut and compensates', async () => {
    const calls: Calls = [];
    const activities = stubActivities(calls, {
      payments: {
        chargePayment: async () => ({ chargeId: 'ch_1', amountMinor: 4900, status: 'pending' as const }),
        checkCharge: async () => (calls.push('checkCharge'), { status: 'pending', chargeId: 'ch_1' }),
      },
    });
    const err = await run('no-outcome', activities, async () => undefined);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'PaymentTimedOut' });
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['createOrder', 'checkCharge', 'refundPayment', 'cancelOrder']);
  });

  test('a webhook that never comes for a charge the processor did make is not a failed payment: asked at the timeout, the order completes', async () => {
    const calls: Calls = [];
    const activities = stubActivities(calls, {
      payments: {
        chargePayment: async () => ({ chargeId: 'ch_1', amountMinor: 4900, status: 'pending' as const }),
        checkCharge: async () => (calls.push('checkCharge'), { status: 'succeeded', chargeId: 'ch_1' }),
      },
    });
    // Before: PaymentTimedOut, and the charge the customer had paid was refunded.
    const result = (await run('webhook-lost', activities, async () => undefined)) as OrderStatus;
    expect(result).toMatchObject({ status: 'completed', order: { chargeId: 'ch_1' } });
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['createOrder', 'checkCharge', 'grantAccess', 'completeOrder']);
  });
});
