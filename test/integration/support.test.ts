/**
 * Support actions, safe by construction, one test per row of the README runbook's replay table
 * (running/parked, compensated, failed, completed) plus the Temporal CLI's own reset, operator
 * retry of a refused step, and two decisions at once. Every test checks the downstreams' records:
 * the customer holds access if and only if they hold an unrefunded charge, and no effect happened
 * twice. RECORD_HISTORIES=1 also writes the new paths' histories into test/histories/.
 */
import { orderWorkflowId } from '../../src/contracts/order';
import { refundWorkflowId } from '../../src/contracts/refund';
import { payloadCodec } from '../../src/temporal/codec';
import { exportHistory } from '../../scripts/export-history';
import { pressCliReset as pressCliResetOn } from '../support/temporal-cli';
import { eventually } from '../support/eventually';
import { expectMoneyAndAccessInStep } from '../support/money-and-access';
import { ORDER_BODY, adminRequest, decideOn, getOrder, json, newCustomer, paymentEvent, postOrder, postPaymentEvent, postRefund, startStack, type Json, type SimName, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const admin = (path: string, init?: Parameters<typeof adminRequest>[2]) => adminRequest(stack, path, init);
const tx = (id: string) => `/transactions/${encodeURIComponent(id)}`;
const decide = (id: string, body: unknown, as?: string) => decideOn(stack, id, body, as);
const replay = (id: string, key: string, reason = 'cause fixed; placing it again') => admin(`${tx(id)}/reset`, { method: 'POST', body: JSON.stringify({ reason }), headers: { 'idempotency-key': key } });
const ops = async (sim: SimName, id: string) => (await stack.sims.ledger(sim, `${id}/`)).map((e) => `${e.op} ${e.idempotencyKey.slice(id.length + 1)}`);
/** What all three downstreams did for a transaction, to compare before and after a support action. */
const ledgersOf = async (id: string) => ({ payments: await ops('payments', id), fulfilment: await ops('fulfilment', id), legacy: await ops('legacy', id) });

async function until(customer: string, key: string, status: string): Promise<Json> {
  return eventually(async () => {
    const body = await json(await getOrder(stack, customer, key));
    return body.status === status ? body : undefined;
  }, 30_000);
}

/** The fulfilment service refuses this order's first grant, and records the refusal under its key (as a real one would). */
function refuseFirstGrant(id: string) {
  return stack.sims.fault('fulfilment', { op: 'grant', idempotencyKey: `${id}/grantAccess/1`, reject: { status: 422, code: 'course_closed', message: 'That course is not open yet.' } });
}

/** An order paid by the processor's webhook (not in the charge call's answer), completed, and then refunded by its customer. */
async function refundedAfterPayingByWebhook(customer: string, key: string): Promise<void> {
  await stack.receiveWebhooksFor(customer);
  expect((await postOrder(stack, customer, key, { ...ORDER_BODY, paymentMethod: { token: 'tok_async' } })).status).toBe(201);
  expect((await postRefund(stack, customer, key, 'refund-1')).status).toBe(201);
}

/** An order charged and then refused access (the fulfilment service's first grant), parked for support. */
async function parkedAtGrant(customer: string, key: string): Promise<string> {
  const id = orderWorkflowId(customer, key);
  await refuseFirstGrant(id);
  expect((await postOrder(stack, customer, key, ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);
  await until(customer, key, 'needs_attention');
  return id;
}

/** An order charged and then refused access, parked, and aborted by support: compensated. */
async function compensatedOrder(customer: string, key: string): Promise<string> {
  const id = await parkedAtGrant(customer, key);
  expect((await decide(id, { action: 'abort', reason: 'course closed; refund agreed' })).status).toBe(200);
  await until(customer, key, 'compensated');
  expect(await ops('payments', id)).toEqual(['charge chargePayment/1', 'refund refundPayment/1']);
  return id;
}

/**
 * Support presses the Temporal CLI's own Reset (to the first workflow task unless told); resolves with
 * the new run once it has closed — or parked for an operator, which the caller's expectation then shows.
 */
async function cliReset(id: string, reason: string, to?: Parameters<typeof pressCliResetOn>[3]) {
  const handle = stack.client.workflow.getHandle(id);
  const before = (await handle.describe()).runId;
  await pressCliReset(id, reason, to);
  return eventually(async () => {
    const d = await handle.describe();
    return d.runId !== before && (d.status.name !== 'RUNNING' || d.searchAttributes?.SagaStatus?.[0] === 'needs_attention') ? d : undefined;
  }, 30_000);
}

/** The Temporal CLI's own `workflow reset`, as support would type it (to the first workflow task unless told). */
async function pressCliReset(id: string, reason: string, to?: Parameters<typeof pressCliResetOn>[3]): Promise<void> {
  expect(await pressCliResetOn(stack.config, id, reason, to)).toMatch(/Resetting workflow/);
}

/** The workflow task completed right after the order's (first) payment webhook: a reset there runs the grant anew. */
async function taskAfterTheWebhook(id: string): Promise<number> {
  const events = (await stack.client.workflow.getHandle(id).fetchHistory()).events ?? [];
  const signalAt = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes);
  return Number(events.slice(signalAt).find((e) => e.workflowTaskCompletedEventAttributes)!.eventId);
}

async function record(id: string, name: string, runId?: string): Promise<void> {
  if (process.env.RECORD_HISTORIES === '1') await exportHistory(stack.client, payloadCodec(stack.config), id, name, runId);
}

test('"charged but never got access": support finds the parked order, and an abort with a reason refunds it', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'no-access');
  await refuseFirstGrant(id);
  expect((await postOrder(stack, customer, 'no-access', ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);

  const listed = await eventually(async () => {
    const body = await json(await admin(`/transactions?status=needs_attention&customerId=${customer}`));
    return body.items.length === 1 ? body.items[0] : undefined;
  });
  expect(listed).toMatchObject({ transactionId: id, customerId: customer, orderKey: 'no-access', sagaStatus: 'needs_attention', failedStep: 'grantAccess' });
  const detail = await json(await admin(tx(id)));
  expect(detail.parked).toMatchObject({ step: 'grantAccess', kind: 'step', error: { type: 'AccessRejected' } });
  expect((await admin('/transactions', { roles: [] })).status).toBe(403);
  const noReason = await decide(id, { action: 'abort' });
  expect(noReason.status).toBe(422);
  expect(await json(noReason)).toMatchObject({ type: 'urn:saga-coordinator:problem:decision-rejected', reason: 'ReasonRequired' });

  const decided = await decide(id, { action: 'abort', reason: 'course closed; refund agreed with the customer' });
  expect(decided.status).toBe(200);
  expect(await json(decided)).toMatchObject({ accepted: true, step: 'grantAccess', action: 'abort', operator: 'ann-support' });
  const done = await until(customer, 'no-access', 'compensated');
  expect(done.decisions).toEqual([expect.objectContaining({ action: 'abort', operator: 'ann-support', step: 'grantAccess' })]);
  expect((await decide(id, { action: 'retry' })).status).toBe(409); // it has finished: nothing to decide (NotRunning)
  expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
});

test("an operator's retry of a refused grant uses a new key, so it succeeds once the downstream accepts, granting once", async () => {
  const customer = newCustomer();
  const id = await parkedAtGrant(customer, 'retry-grant');
  // The downstream recorded its refusal under key …/grantAccess/1: resending that key could never succeed.
  expect((await decide(id, { action: 'retry' })).status).toBe(200);
  const done = await until(customer, 'retry-grant', 'completed');
  expect(done.steps.find((s: Json) => s.name === 'grantAccess')).toMatchObject({ state: 'completed', epoch: '1.2' });
  expect(await ops('fulfilment', id)).toEqual(['grant grantAccess/1.2']);
  expect(await ops('payments', id)).toEqual(['charge chargePayment/1']);
  expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['held']);
  await record(id, 'order-grant-retried-after-refusal');
});

test('two decisions at once: one is applied, the other is refused with 409, and only one is recorded', async () => {
  const customer = newCustomer();
  const id = await parkedAtGrant(customer, 'two-decisions');
  const answers = await Promise.all([decide(id, { action: 'abort', reason: 'refund agreed' }, 'ann'), decide(id, { action: 'skip', reason: 'granted by hand' }, 'bob')]);
  expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
  const refused = answers.find((a) => a.status === 409)!;
  expect(['DecisionInProgress', 'NotParked']).toContain((await json(refused)).reason);
  const settled = await eventually(async () => {
    const body = await json(await admin(tx(id)));
    return body.status === 'compensated' || body.status === 'completed' ? body : undefined;
  });
  expect(settled.decisions).toHaveLength(1);
});

test("support's Cancel (Web UI / CLI) of a parked order compensates it, and the customer's status says so, with its steps", async () => {
  const customer = newCustomer();
  const id = await parkedAtGrant(customer, 'cancelled-parked');
  await stack.client.workflow.getHandle(id).cancel();
  const done = await until(customer, 'cancelled-parked', 'compensated');
  expect(done).toMatchObject({ customerId: customer, failure: { step: 'grantAccess' } });
  expect(done.steps.map((s: Json) => [s.name, s.state])).toEqual([['createOrder', 'compensated'], ['chargePayment', 'compensated'], ['grantAccess', 'compensated'], ['completeOrder', 'pending']]);
  expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
  await record(id, 'order-parked-then-cancelled');
});

describe("support's Cancel while a downstream call is under way never abandons it: the order runs on to its end and the Cancel is recorded as too late", () => {
  async function cancelMidCall(key: string, slow: Record<string, unknown>[], sim: SimName) {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, key);
    for (const rule of slow) await stack.sims.fault(sim, { ...rule, idempotencyKeyPrefix: `${id}/`, times: 1 });
    expect((await postOrder(stack, customer, key, ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);
    // Cancel once the slow call is under way: its rules are used up when it arrives (the saga's own
    // status cannot say: mid local activity it holds its workflow task, and a query waits for it).
    await eventually(async () => ((await stack.sims.faults(sim)).some((f) => String(f.idempotencyKeyPrefix).startsWith(id)) ? undefined : true), 30_000);
    await stack.client.workflow.getHandle(id).cancel();
    const done = await until(customer, key, 'completed');
    expect(done.cancelRefused?.reason).toContain('too late');
    expect(await ops('payments', id)).toEqual(['charge chargePayment/1']);
    expect(await ops('fulfilment', id)).toEqual(['grant grantAccess/1']);
    expect(await ops('legacy', id)).toEqual(['create createOrder/1', 'complete completeOrder/1']);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['held']);
    await record(id, `order-${key}-too-late`);
  }

  test('on the fast path (the Cancel lands in the workflow task running the local activities, which the server then refuses)', async () => {
    // Before: the retried task cancelled at once, forgot the charge and the grant, and parked at cancelOrder of a completed order.
    await cancelMidCall('cancel-fast-path', [{ op: 'charge', latencyMs: 600 }], 'payments'); // under the test stack's 1 s client timeout: it stays local
  });

  test("on the grant's queue (its fast try failed; the queued call is slow)", async () => {
    // Before: the call was abandoned, revokeAccess found nothing yet, and the grant committed after the refund.
    await cancelMidCall('cancel-queued-call', [{ op: 'grant', errorRate: 1, times: 1 }, { op: 'grant', latencyMs: 2_000 }], 'fulfilment');
  });
});

test("support's Cancel after a grant was skipped as done by hand is not acted on (it would refund and leave the hand-made access): the saga still waits for a decision", async () => {
  const customer = newCustomer();
  const id = await parkedAtGrant(customer, 'skipped-then-cancelled');
  // The legacy service refuses the completion too: after the skip, the order parks again at completeOrder.
  await stack.sims.fault('legacy', { op: 'complete', idempotencyKey: `${id}/completeOrder/1`, reject: { status: 422, code: 'order_locked', message: 'Locked for review.' } });
  expect((await decide(id, { action: 'skip', reason: 'enrolled by hand in the LMS' })).status).toBe(200);
  await eventually(async () => ((await json(await admin(tx(id)))).parked?.step === 'completeOrder' ? true : undefined), 30_000);

  await stack.client.workflow.getHandle(id).cancel();
  const refused = await eventually(async () => {
    const body = await json(await admin(tx(id)));
    return body.cancelRefused ? body : undefined;
  }, 30_000);
  expect(refused).toMatchObject({ status: 'needs_attention', parked: { step: 'completeOrder' } });
  expect(refused.cancelRefused.reason).toContain('grantAccess');
  expect(await ops('payments', id)).toEqual(['charge chargePayment/1']); // nothing refunded
  expect(await ops('legacy', id)).toEqual(['create createOrder/1']); // nor the order cancelled (the refused completion is not recorded)

  // Support settles it as the runbook says: retry the completion (a new epoch: the refusal was definite).
  expect((await decide(id, { action: 'retry' })).status).toBe(200);
  const done = await until(customer, 'skipped-then-cancelled', 'completed');
  expect(done.order).toMatchObject({ enrollmentId: 'skipped-by-operator' });
  expect(await ops('payments', id)).toEqual(['charge chargePayment/1']);
  expect(await ops('legacy', id)).toEqual(['create createOrder/1', 'complete completeOrder/1.2']);
  await record(id, 'order-skipped-then-cancel-refused');
});

test('the refund of an order whose grant support skipped (granted by hand) parks at revokeAccess for support to revoke by hand: it never ends with the money back and the access kept', async () => {
  const customer = newCustomer();
  const id = await parkedAtGrant(customer, 'hand-granted-refund');
  expect((await decide(id, { action: 'skip', reason: 'enrolled by hand in the LMS' })).status).toBe(200);
  await until(customer, 'hand-granted-refund', 'completed');
  expect((await postRefund(stack, customer, 'hand-granted-refund', 'refund-1', undefined, { prefer: 'respond-async' })).status).toBe(202);
  const refundId = refundWorkflowId(customer, 'hand-granted-refund');
  // Before: it completed with access "not_granted" (its revoke found nothing of ours), the hand-made access kept.
  const parked = await eventually(async () => {
    const body = await json(await admin(tx(refundId)));
    return body.status === 'needs_attention' ? body : undefined;
  }, 30_000);
  expect(parked.parked).toMatchObject({ step: 'revokeAccess', error: { type: 'AccessGrantedByHand' } });
  // The money stays until the hand-made access is gone: nothing refunded while it waits.
  expect(await stack.sims.ledger('payments', `${refundId}/`)).toEqual([]);
  expect((await decide(refundId, { action: 'skip', reason: 'revoked by hand in the LMS' })).status).toBe(200);
  const done = await eventually(async () => {
    const body = await json(await admin(tx(refundId)));
    return body.status === 'completed' ? body : undefined;
  }, 30_000);
  expect(done.refund).toMatchObject({ payment: 'refunded', access: 'skipped-by-operator', legacyOrder: 'refunded' });
  expect((await stack.sims.ledger('payments', `${refundId}/`)).map((e) => e.op)).toEqual(['refund']);
  await record(refundId, 'refund-access-granted-by-hand-first');
});

test("the CLI's reset to before a Cancel revives the order parked, but support's retry then finds its attempt undone and places it again: never access against a refunded charge", async () => {
  const customer = newCustomer();
  const key = 'reset-before-cancel';
  const id = orderWorkflowId(customer, key);
  // The grant's fast try fails, and its queued call is refused: the park has a workflow task of its own to reset to.
  await stack.sims.fault('fulfilment', { op: 'grant', idempotencyKeyPrefix: `${id}/`, errorRate: 1, times: 1 });
  await stack.sims.fault('fulfilment', { op: 'grant', idempotencyKey: `${id}/grantAccess/1`, reject: { status: 422, code: 'course_closed', message: 'Not open yet.' } });
  expect((await postOrder(stack, customer, key, ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);
  await until(customer, key, 'needs_attention');
  const handle = stack.client.workflow.getHandle(id);
  await handle.cancel();
  await until(customer, key, 'compensated');
  // Support resets to the last workflow task before the Cancel (a reset does not carry a Cancel over).
  const events = (await handle.fetchHistory()).events ?? [];
  const cancelAt = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
  const before = events.slice(0, cancelAt).reverse().find((e) => e.workflowTaskCompletedEventAttributes);
  await pressCliReset(id, 'support: undo the cancel', { eventId: Number(before!.eventId) });
  await until(customer, key, 'needs_attention');
  // Before: the retry granted access under a new epoch against the refunded charge, and a skip of the
  // refused completion then called the order completed.
  expect((await decide(id, { action: 'retry' })).status).toBe(200);
  const done = await until(customer, key, 'completed');
  expect(done).toMatchObject({ attempt: 2, undoneAttempts: [expect.objectContaining({ attempt: 1 })] });
  expect(await ops('payments', id)).toEqual(['charge chargePayment/1', 'refund refundPayment/1', 'charge chargePayment/2']);
  expect(await expectMoneyAndAccessInStep(stack.sims, id, 2)).toEqual(['none', 'held']);
  await record(id, 'order-reset-before-cancel-then-retried');
});

test("the CLI's reset to after the charge of an order a Cancel compensated, with the processor's late webhook applied again, never grants against the cancelled charge: the grant looks first and the order is placed again", async () => {
  const customer = newCustomer();
  const key = 'reset-after-charge';
  const id = orderWorkflowId(customer, key);
  await stack.receiveWebhooksFor(customer);
  // An asynchronous charge whose processor stays silent: the order waits for its webhook.
  expect((await postOrder(stack, customer, key, { ...ORDER_BODY, paymentMethod: { token: 'tok_asyncSilent' } }, { prefer: 'respond-async' })).status).toBe(202);
  const firstCharge = await eventually(async () => (await stack.sims.ledger('payments', id)).find((e) => e.op === 'charge')?.ref);
  await eventually(async () => ((await json(await getOrder(stack, customer, key))).steps?.find((s: Json) => s.name === 'chargePayment')?.state === 'running' ? true : undefined));
  // An event about another charge (ignored) gives the run a workflow task after the charge's: a reset point.
  expect((await postPaymentEvent(stack, paymentEvent('evt_other_charge', 'payment.succeeded', 'ch_other', id))).status).toBe(200);
  await eventually(async () => ((await json(await getOrder(stack, customer, key))).events?.length === 1 ? true : undefined));
  // Support cancels it; the undo of its legacy order (a look by reference) is slow, so the processor's
  // payment.succeeded for the charge just cancelled lands while the run is still open: in its history.
  const lookup = `reference=${encodeURIComponent(id)}`;
  await stack.sims.fault('legacy', { op: 'list', urlContains: lookup, latencyMs: 800, times: 1 });
  const handle = stack.client.workflow.getHandle(id);
  await handle.cancel();
  await eventually(async () => ((await stack.sims.faults('legacy')).some((f) => f.urlContains === lookup) ? undefined : true), 30_000);
  expect((await postPaymentEvent(stack, paymentEvent('evt_after_cancel', 'payment.succeeded', firstCharge, id))).status).toBe(200);
  const cancelled = await until(customer, key, 'compensated');
  expect(cancelled.events).toEqual([expect.objectContaining({ eventId: 'evt_other_charge', effect: expect.stringContaining('ignored') }), expect.objectContaining({ eventId: 'evt_after_cancel', effect: 'ignored: the order is being undone' })]);
  // Support resets to the last workflow task before the Cancel: the charge is in it, the Cancel is not,
  // and the webhook (a signal after that point) is applied again.
  const events = (await handle.fetchHistory()).events ?? [];
  const cancelAt = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
  const before = events.slice(0, cancelAt).reverse().find((e) => e.workflowTaskCompletedEventAttributes);
  await pressCliReset(id, 'support: undo the cancel', { eventId: Number(before!.eventId) });
  // Before: the reapplied event paid for the order, grantAccess/1 granted against the cancelled charge,
  // and the order parked at completeOrder (its legacy order cancelled) with money and access apart.
  const secondCharge = await eventually(async () => (await stack.sims.ledger('payments', `${id}/chargePayment/2`))[0]?.ref, 30_000);
  await stack.sims.sendPaymentEvent(secondCharge, 'payment.succeeded');
  const done = await until(customer, key, 'completed');
  expect(done).toMatchObject({ attempt: 2, reference: `${id}#2`, undoneAttempts: [expect.objectContaining({ attempt: 1, reference: id })] });
  expect(await ops('fulfilment', id)).toEqual(['grant grantAccess/2']);
  expect(await expectMoneyAndAccessInStep(stack.sims, id, 2)).toEqual(['none', 'held']);
  await record(id, 'order-reset-after-charge-looks-first');
});

test("a terminated order tells its customer it was stopped, never support's own terminate reason", async () => {
  const customer = newCustomer();
  const id = await parkedAtGrant(customer, 'terminated');
  await stack.client.workflow.getHandle(id).terminate('internal: fraud check, ticket SEC-1234');
  const status = await until(customer, 'terminated', 'failed');
  // Whose and which order it is stays on it (before: both empty).
  expect(status).toMatchObject({ transactionId: id, customerId: customer, idempotencyKey: 'terminated' });
  const retried = await postOrder(stack, customer, 'terminated');
  expect(retried.status).toBe(422);
  // Before: the reason was the failure's message and the 422's detail.
  for (const text of [JSON.stringify(status), JSON.stringify(await json(retried))]) {
    expect(text).not.toContain('SEC-1234');
    expect(text).toContain('stopped before it finished');
  }
});

test('a decision on a settled transaction is a 409 that says so; on an unknown one, a 404', async () => {
  const customer = newCustomer();
  expect((await postOrder(stack, customer, 'settled')).status).toBe(201);
  const settled = await decide(orderWorkflowId(customer, 'settled'), { action: 'retry' });
  // Before: 404 not-found, which docs/problems.md keeps for what does not exist.
  expect(settled.status).toBe(409);
  expect(await json(settled)).toMatchObject({ type: 'urn:saga-coordinator:problem:decision-rejected', reason: 'NotRunning', detail: expect.stringContaining('completed') });
  expect((await decide(orderWorkflowId(customer, 'never-placed'), { action: 'retry' })).status).toBe(404);
});

test('a parked order terminated and then reset from the CLI is listed once under needs_attention: its current run', async () => {
  const customer = newCustomer();
  const id = await parkedAtGrant(customer, 'terminated-reset');
  const handle = stack.client.workflow.getHandle(id);
  const first = (await handle.describe()).runId;
  await handle.terminate('support: pressed Terminate');
  await pressCliReset(id, 'support: undo the terminate');
  // The new run parks again at the refused grant; the terminated run keeps SagaStatus = needs_attention.
  await eventually(async () => ((await handle.describe()).runId !== first && (await json(await getOrder(stack, customer, 'terminated-reset'))).status === 'needs_attention' ? true : undefined), 30_000);
  const listed = await eventually(async () => {
    const body = await json(await admin(`/transactions?status=needs_attention&customerId=${encodeURIComponent(customer)}`));
    return body.items?.length ? body : undefined;
  });
  expect(listed.items).toHaveLength(1);
  expect(listed.items[0]).toMatchObject({ transactionId: id, sagaStatus: 'needs_attention' });
  expect(listed.items[0].closedAt).toBeUndefined(); // the current run, not the terminated one
  expect((await decide(id, { action: 'abort', reason: 'course closed; refund agreed' })).status).toBe(200);
  await until(customer, 'terminated-reset', 'compensated');
  // Settled: neither run is listed as waiting for support any more (the terminated one kept its last SagaStatus).
  const after = await eventually(async () => {
    const body = await json(await admin(`/transactions?status=needs_attention&customerId=${encodeURIComponent(customer)}`));
    return body.items?.length === 0 ? body : undefined;
  });
  expect(after.query).toContain('ExecutionStatus = "Running"');
});

describe('replay ("reset"): the runbook table, row by row', () => {
  test('running or parked: refused with 409, and it says to decide instead; nothing changes', async () => {
    const customer = newCustomer();
    const id = await parkedAtGrant(customer, 'parked');
    const before = await ops('payments', id);
    const refused = await replay(id, 'r-parked');
    expect(refused.status).toBe(409);
    expect(await json(refused)).toMatchObject({ type: 'urn:saga-coordinator:problem:not-resettable' });
    expect((await json(await replay(id, 'r-parked-2'))).detail).toContain('decide');
    expect(await ops('payments', id)).toEqual(before);
    expect((await json(await admin(tx(id)))).status).toBe('needs_attention');
  });

  test('compensated: replayed as a new attempt (new order, new charge, access) once; the same Idempotency-Key again replays nothing', async () => {
    const customer = newCustomer();
    const id = await compensatedOrder(customer, 'comp');
    const firstRun = (await stack.client.workflow.getHandle(id).describe()).runId;
    const missingKey = await admin(`${tx(id)}/reset`, { method: 'POST', body: JSON.stringify({ reason: 'x' }) });
    expect(missingKey.status).toBe(400);

    // Pressed twice, concurrently and then again: one new run.
    const [a, b] = await Promise.all([replay(id, 'replay-1'), replay(id, 'replay-1')]);
    expect([a.status, b.status]).toEqual([202, 202]);
    const [ra, rb] = [await json(a), await json(b)];
    expect(ra.runId).toBe(rb.runId);
    expect(ra.runId).not.toBe(firstRun);
    expect(ra).toMatchObject({ attempt: 2, resetBy: 'ann-support' });
    const done = await until(customer, 'comp', 'completed');
    expect(done).toMatchObject({ attempt: 2, reference: `${id}#2`, replay: { operator: 'ann-support', key: 'replay-1', previousRunId: firstRun } });
    const again = await replay(id, 'replay-1');
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await json(again)).runId).toBe(ra.runId);

    expect(await ops('payments', id)).toEqual(['charge chargePayment/1', 'refund refundPayment/1', 'charge chargePayment/2']);
    expect(await ops('legacy', id)).toEqual(['create createOrder/1', 'cancel cancelOrder/1', 'create createOrder/2', 'complete completeOrder/2']);
    expect(await ops('fulfilment', id)).toEqual(['grant grantAccess/2']);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 2)).toEqual(['none', 'held']);
    // The customer's own retry of the original request still attaches to this transaction.
    const retried = await postOrder(stack, customer, 'comp');
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    // And a refund now undoes the attempt that holds the money.
    const refund = await fetch(`${stack.url}/v1/orders/comp/refunds`, { method: 'POST', headers: { authorization: `Bearer ${await stack.token(customer)}`, 'content-type': 'application/json', 'idempotency-key': 'refund-1' }, body: '{}' });
    expect(refund.status).toBe(201);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 2)).toEqual(['none', 'none']);
    await record(id, 'order-replayed-after-compensation', ra.runId);
  });

  test("a replay's key is answered with that replay for good, not only until the next replay (which made it start yet another attempt)", async () => {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, 'declined-thrice');
    const declined = { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } };
    expect((await postOrder(stack, customer, 'declined-thrice', declined)).status).toBe(422);
    const settled = (attempt: number) => eventually(async () => {
      const body = await json(await admin(tx(id)));
      return body.attempt === attempt && body.status === 'compensated' ? body : undefined;
    }, 30_000);
    const first = await replay(id, 'r-1', 'card updated');
    expect(await json(first)).toMatchObject({ attempt: 2 });
    await settled(2);
    expect(await json(await replay(id, 'r-2', 'card updated again'))).toMatchObject({ attempt: 3 });
    await settled(3);
    // r-1 again: the replay it started, attempt 2 — nothing new.
    const again = await replay(id, 'r-1', 'card updated');
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await json(again)).toMatchObject({ attempt: 2, reason: 'card updated' });
    // r-1 with another reason is another request under a used key.
    const reused = await replay(id, 'r-1', 'something else');
    expect(reused.status).toBe(422);
    expect((await json(reused)).type).toBe('urn:saga-coordinator:problem:idempotency-key-reused');
    expect((await ops('legacy', id)).filter((o) => o.startsWith('create'))).toEqual(['create createOrder/1', 'create createOrder/2', 'create createOrder/3']);
    expect((await json(await admin(tx(id)))).attempt).toBe(3);
  });

  test('completed: refused with 409 (a refund undoes it); nothing changes', async () => {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, 'done');
    expect((await postOrder(stack, customer, 'done')).status).toBe(201);
    const before = await Promise.all((['legacy', 'payments', 'fulfilment'] as const).map((s) => ops(s, id)));
    const refused = await replay(id, 'r-done');
    expect(refused.status).toBe(409);
    expect((await json(refused)).detail).toContain('refund');
    expect(await Promise.all((['legacy', 'payments', 'fulfilment'] as const).map((s) => ops(s, id)))).toEqual(before);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['held']);
    if (stack.config.FAST_PATH) await record(id, 'order-fast-path-completed');
  });

  test('failed before anything happened (the legacy service refused the order): replayed as a new attempt, which the refusal recorded under the old key cannot block', async () => {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, 'refused');
    await stack.sims.fault('legacy', { op: 'create', idempotencyKey: `${id}/createOrder/1`, reject: { status: 422, code: 'CUSTOMER_LOCKED', message: 'customer account locked' } });
    expect((await postOrder(stack, customer, 'refused')).status).toBe(422);
    const replayed = await replay(id, 'r-refused');
    expect(replayed.status).toBe(202);
    await until(customer, 'refused', 'completed');
    expect(await ops('legacy', id)).toEqual(['create createOrder/2', 'complete completeOrder/2']);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 2)).toEqual(['none', 'held']);
  });

  test('a parked compensation cannot be aborted (its undo would stay undone); the saga stays parked, and skip settles it', async () => {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, 'half-undone');
    await stack.sims.fault('legacy', { op: 'cancel', reject: { status: 422, code: 'ORDER_LOCKED', message: 'order locked' }, idempotencyKey: `${id}/cancelOrder/1` });
    expect((await postOrder(stack, customer, 'half-undone', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } }, { prefer: 'respond-async' })).status).toBe(202);
    await until(customer, 'half-undone', 'needs_attention');
    const refused = await decide(id, { action: 'abort', reason: 'will cancel in the legacy admin' });
    expect(refused.status).toBe(422);
    expect(await json(refused)).toMatchObject({ reason: 'AbortNotSafe', detail: expect.stringContaining('cancelOrder') });
    // Nothing changed: still parked at the compensation, and a replay is refused while it is.
    expect((await json(await admin(tx(id)))).parked).toMatchObject({ step: 'createOrder', kind: 'compensation' });
    expect((await replay(id, 'r-half')).status).toBe(409);
    expect((await decide(id, { action: 'skip', reason: 'cancelled in the legacy admin by hand' })).status).toBe(200);
    await until(customer, 'half-undone', 'compensated');
    expect(await ops('legacy', id)).toEqual(['create createOrder/1']);
  });

  test("the Temporal CLI's own reset of a compensated order is safe: the new run finds its attempt undone and places it again once", async () => {
    const customer = newCustomer();
    const id = await compensatedOrder(customer, 'cli-reset');
    expect((await cliReset(id, 'support: cause fixed')).status.name).toBe('COMPLETED');
    const done = await until(customer, 'cli-reset', 'completed');
    expect(done).toMatchObject({ attempt: 2, reference: `${id}#2`, undoneAttempts: [expect.objectContaining({ attempt: 1, reference: id })] });
    expect(await ops('payments', id)).toEqual(['charge chargePayment/1', 'refund refundPayment/1', 'charge chargePayment/2']);
    expect(await ops('fulfilment', id)).toEqual(['grant grantAccess/2']);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 2)).toEqual(['none', 'held']);
    // Reset again: attempt 1 is still undone, attempt 2 stands and is adopted: nothing new happens.
    expect((await cliReset(id, 'pressed again')).status.name).toBe('COMPLETED');
    await until(customer, 'cli-reset', 'completed');
    expect(await ops('payments', id)).toEqual(['charge chargePayment/1', 'refund refundPayment/1', 'charge chargePayment/2']);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 2)).toEqual(['none', 'held']);
    await record(id, 'order-cli-reset-after-compensation');
  });

  test("support's Cancel while the CLI's reset of a compensated order is still undoing the old attempt stops it there: nothing is placed, charged or granted again", async () => {
    const customer = newCustomer();
    const key = 'reset-then-cancelled';
    const id = await compensatedOrder(customer, key);
    const legacyBefore = await ops('legacy', id);
    // The old attempt's undo looks its order up by reference (found cancelled already) and that look is slow,
    // so the Cancel lands during it: the reset run's first look (createOrder's, which finds the attempt undone)
    // passes, the undo's takes 2 s, past the test stack's 1 s client timeout, and is retried once the rule is used up.
    const lookup = `reference=${encodeURIComponent(id)}`;
    await stack.sims.fault('legacy', { op: 'list', urlContains: lookup, times: 1 });
    await stack.sims.fault('legacy', { op: 'list', urlContains: lookup, latencyMs: 2_000, times: 1 });
    const handle = stack.client.workflow.getHandle(id);
    const before = (await handle.describe()).runId;
    await pressCliReset(id, 'support: cause fixed');
    await eventually(async () => ((await stack.sims.faults('legacy')).some((f) => f.urlContains === lookup) ? undefined : true), 30_000);
    await handle.cancel();
    const closed = await eventually(async () => {
      const d = await handle.describe();
      return d.runId !== before && d.status.name !== 'RUNNING' ? d : undefined;
    }, 30_000);
    expect(closed.status.name).toBe('FAILED');
    // Before: the next attempt placed a new order, charged and granted, and the Cancel was recorded as too late.
    const done = await until(customer, key, 'compensated');
    expect(done).toMatchObject({ attempt: 1, failure: { type: 'CancelledFailure' }, undoneAttempts: [expect.objectContaining({ attempt: 1, reference: id })] });
    expect(done.cancelRefused).toBeUndefined();
    expect(await ops('payments', id)).toEqual(['charge chargePayment/1', 'refund refundPayment/1']);
    expect(await ops('fulfilment', id)).toEqual([]);
    expect((await ops('legacy', id)).filter((op) => !legacyBefore.includes(op))).toEqual([]);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
    await record(id, 'order-reset-then-cancelled-during-undo');
  });

  test("the Temporal CLI's own reset of an order completed and then refunded places nothing again: no second charge, access stays revoked", async () => {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, 'refunded-reset');
    expect((await postOrder(stack, customer, 'refunded-reset')).status).toBe(201);
    expect((await postRefund(stack, customer, 'refunded-reset', 'refund-1')).status).toBe(201);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
    // The new run adopts what stands (its own keys' stored answers) and ends as the order had.
    expect((await cliReset(id, 'support: pressed by mistake')).status.name).toBe('COMPLETED');
    expect(await until(customer, 'refunded-reset', 'completed')).toMatchObject({ attempt: 1, reference: id });
    expect(await ops('payments', id)).toEqual(['charge chargePayment/1']);
    expect(await ops('fulfilment', id)).toEqual(['grant grantAccess/1']);
    expect(await ops('legacy', id)).toEqual(['create createOrder/1', 'complete completeOrder/1']);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
  });

  test("the CLI's reset to the last workflow task of an order paid by webhook and then refunded adopts it too: no second charge, no new attempt", async () => {
    const customer = newCustomer();
    const key = 'refunded-async-reset';
    const id = orderWorkflowId(customer, key);
    // Paid by the processor's webhook: the grant and the completion run in a workflow task of their own, after the charge's.
    await refundedAfterPayingByWebhook(customer, key);
    const before = await ledgersOf(id);
    // (With FAST_PATH=false the last task only completes the run; the point after the webhook is tested below too.)
    const closed = await cliReset(id, 'support: pressed reset', 'LastWorkflowTask');
    // Before: the grant's stored answer found the access revoked (by the refund), the attempt was taken as
    // undone, its undo parked at cancelOrder (the legacy order is refunded), and a skip charged the customer again.
    expect(closed.status.name).toBe('COMPLETED');
    expect(await until(customer, key, 'completed')).toMatchObject({ attempt: 1, reference: id });
    expect(await ledgersOf(id)).toEqual(before);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
    await record(id, 'order-refunded-reset-to-last-task-adopted');
  });

  test("the CLI's reset of a completed order after the downstreams forgot its keys (as a processor does after a day) places, charges and grants nothing again", async () => {
    const customer = newCustomer();
    const key = 'reset-after-keys-forgotten';
    const id = orderWorkflowId(customer, key);
    expect((await postOrder(stack, customer, key)).status).toBe(201);
    const before = await ledgersOf(id);
    for (const sim of ['legacy', 'payments', 'fulfilment'] as const) expect((await fetch(`${stack.sims.url(sim)}/_sim/forget-keys`, { method: 'POST' })).status).toBe(200);
    // Before: the new run's calls, their keys forgotten, were new requests: a second legacy order, a second charge, a second grant.
    expect((await cliReset(id, 'support: pressed reset')).status.name).toBe('COMPLETED');
    expect(await until(customer, key, 'completed')).toMatchObject({ attempt: 1, reference: id });
    expect(await ledgersOf(id)).toEqual(before);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['held']);
  });

  test("a reset to a workflow task while a step was under way, of an order refunded since, adopts it: the step's own look finds its charge refunded, and the order is asked whether it had completed", async () => {
    const customer = newCustomer();
    const key = 'refunded-reset-mid-charge';
    const id = orderWorkflowId(customer, key);
    // The charge answers 503 three times: it goes to (or stays on) its queue and is retried there for a few seconds.
    await stack.sims.fault('payments', { op: 'charge', idempotencyKey: `${id}/chargePayment/1`, errorRate: 1, status: 503, times: 3 });
    const placing = postOrder(stack, customer, key, ORDER_BODY);
    const handle = stack.client.workflow.getHandle(id);
    const scheduled = (e: { activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null }) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargePayment';
    await eventually(async () => ((await handle.fetchHistory().catch(() => undefined))?.events ?? []).some(scheduled) || undefined, 15_000);
    // While the charge is retried, the processor tells of another charge (kept, never pays): a workflow task in the middle of the step.
    expect((await postPaymentEvent(stack, paymentEvent('evt_mid_charge', 'payment.succeeded', 'ch_someone_else', id))).status).toBe(200);
    expect((await placing).status).toBe(201);
    expect((await postRefund(stack, customer, key, 'refund-1')).status).toBe(201);
    const before = await ledgersOf(id);
    expect(await ops('payments', refundWorkflowId(customer, key))).toEqual(['refund refundPayment/1']);
    const events = (await handle.fetchHistory()).events ?? [];
    const signalAt = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes);
    const taskAfter = events.slice(signalAt).find((e) => e.workflowTaskCompletedEventAttributes)!;
    const chargeDone = events.findIndex((e) => e.activityTaskCompletedEventAttributes && Number(e.activityTaskCompletedEventAttributes.scheduledEventId) === Number(events.find(scheduled)!.eventId));
    expect(Number(taskAfter.eventId)).toBeLessThan(Number(events[chargeDone]!.eventId)); // the reset point is inside the charge
    const closed = await cliReset(id, 'support: pressed reset', { eventId: Number(taskAfter.eventId) });
    // Before: the charge's stored answer found it refunded, the attempt was taken as undone, and its undo
    // parked at cancelOrder (the legacy order is refunded): retry could never pass it, and a skip placed
    // the order again as attempt 2, charging the customer a second time.
    expect(closed.status.name).toBe('COMPLETED');
    expect(await until(customer, key, 'completed')).toMatchObject({ attempt: 1, reference: id });
    expect(await ledgersOf(id)).toEqual(before);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
    await record(id, 'order-refunded-reset-mid-charge-adopted');
  });

  test("a look that a step makes after a stored answer and that is refused (a 4xx) is not the step's refusal: a reset of a parked order is not undone by it", async () => {
    const customer = newCustomer();
    const key = 'reset-reconcile-refused';
    const id = await parkedAtGrant(customer, key);
    const before = await ledgersOf(id);
    // The reset run's createOrder gets its stored answer; its look at the order (does it still stand?) is refused once.
    await stack.sims.fault('legacy', { op: 'list', urlContains: `reference=${encodeURIComponent(id)}`, errorRate: 1, status: 400, times: 1 });
    const handle = stack.client.workflow.getHandle(id);
    const firstRun = (await handle.describe()).runId;
    await pressCliReset(id, 'support: pressed reset', 'FirstWorkflowTask');
    await eventually(async () => ((await handle.describe()).runId !== firstRun ? true : undefined), 30_000);
    // Before: the refused look read as "order rejected": the legacy order was cancelled and the charge left unrefunded.
    const parked = await until(customer, key, 'needs_attention');
    expect(parked.parked).toMatchObject({ step: 'grantAccess' });
    expect(await ledgersOf(id)).toEqual(before);
  });

  test("in a reset run, a look at the earlier steps that cannot be made parks the step (CheckFailed) without making its call; support's retry looks again, and nothing is done twice", async () => {
    const customer = newCustomer();
    const key = 'reset-look-fails';
    const id = orderWorkflowId(customer, key);
    await refundedAfterPayingByWebhook(customer, key);
    const before = await ledgersOf(id);
    // The legacy service refuses the reset run's first look at the order once (a 4xx, not an outage).
    const lookup = `reference=${encodeURIComponent(id)}`;
    await stack.sims.fault('legacy', { op: 'list', urlContains: lookup, errorRate: 1, status: 400, times: 1 });
    // To the workflow task the payment webhook started (fast path or not, the grant runs anew from there).
    await pressCliReset(id, 'support: pressed reset', { eventId: await taskAfterTheWebhook(id) });
    const parked = await until(customer, key, 'needs_attention');
    expect(parked.parked).toMatchObject({ step: 'grantAccess', error: { type: 'CheckFailed' } });
    // Before: the look's refusal was taken for the grant's own, and the retry granted again under a new epoch (1.2).
    expect((await decide(id, { action: 'retry' })).status).toBe(200);
    expect(await until(customer, key, 'completed')).toMatchObject({ attempt: 1 });
    expect(await ledgersOf(id)).toEqual(before);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
  });

  test("the CLI's reset of an order completed after support's retry (granted under a new epoch) adopts it: no new park, nothing placed again", async () => {
    const customer = newCustomer();
    const id = await parkedAtGrant(customer, 'retried-reset');
    expect((await decide(id, { action: 'retry' })).status).toBe(200);
    await until(customer, 'retried-reset', 'completed');
    const before = await Promise.all((['payments', 'fulfilment', 'legacy'] as const).map((sim) => ops(sim, id)));
    expect(before[1]).toEqual(['grant grantAccess/1.2']);
    // The new run's grant (key …/1) gets the stored refusal; the order had completed: the retry's grant is adopted.
    expect((await cliReset(id, 'support: pressed by mistake')).status.name).toBe('COMPLETED');
    expect(await until(customer, 'retried-reset', 'completed')).toMatchObject({ attempt: 1 });
    expect(await Promise.all((['payments', 'fulfilment', 'legacy'] as const).map((sim) => ops(sim, id)))).toEqual(before);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['held']);
  });

  test("the CLI's reset of an order completed after support's skip (granted by hand) adopts it too", async () => {
    const customer = newCustomer();
    const id = await parkedAtGrant(customer, 'skipped-reset');
    expect((await decide(id, { action: 'skip', reason: 'enrolled by hand in the LMS' })).status).toBe(200);
    await until(customer, 'skipped-reset', 'completed');
    const before = await Promise.all((['payments', 'fulfilment', 'legacy'] as const).map((sim) => ops(sim, id)));
    expect((await cliReset(id, 'support: pressed by mistake')).status.name).toBe('COMPLETED');
    const after = await until(customer, 'skipped-reset', 'completed');
    expect(after.order).toMatchObject({ enrollmentId: 'skipped-by-operator' });
    expect(await Promise.all((['payments', 'fulfilment', 'legacy'] as const).map((sim) => ops(sim, id)))).toEqual(before);
  });

  test("a reset while the customer's refund is still under way (legacy order not yet marked) places nothing again either", async () => {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, 'refund-under-way');
    expect((await postOrder(stack, customer, 'refund-under-way')).status).toBe(201);
    // The legacy service refuses to mark the order refunded: the refund saga, charge refunded and access revoked, parks there.
    const refundId = refundWorkflowId(customer, 'refund-under-way');
    const unblock = await stack.sims.fault('legacy', { op: 'refund', idempotencyKeyPrefix: `${refundId}/`, reject: { status: 422, code: 'order_locked', message: 'Locked for month-end.' } });
    try {
      expect((await postRefund(stack, customer, 'refund-under-way', 'refund-1', undefined, { prefer: 'respond-async' })).status).toBe(202);
      await eventually(async () => {
        const status = await json(await fetch(`${stack.url}/v1/orders/refund-under-way/refund`, { headers: { authorization: `Bearer ${await stack.token(customer)}` } }));
        return status.status === 'needs_attention' ? status : undefined;
      }, 30_000);
      expect((await cliReset(id, 'support: pressed by mistake')).status.name).toBe('COMPLETED');
      expect(await ops('payments', id)).toEqual(['charge chargePayment/1']);
      expect(await ops('fulfilment', id)).toEqual(['grant grantAccess/1']);
      expect(await ops('legacy', id)).toEqual(['create createOrder/1', 'complete completeOrder/1']);
    } finally {
      await unblock();
    }
    // Support lets the refund finish: then the legacy order agrees too.
    expect((await decide(refundId, { action: 'retry' })).status).toBe(200);
    await eventually(async () => ((await stack.client.workflow.getHandle(refundId).describe()).status.name === 'COMPLETED' ? true : undefined), 30_000);
    expect(await ops('payments', id)).toEqual(['charge chargePayment/1']);
    expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
  });
});
