/** The refund saga through the edge: one refund per completed order, with the orders' edge semantics. */
import { orderWorkflowId } from '../../src/contracts/order';
import { pressCliReset } from '../support/temporal-cli';
import { refundWorkflowId } from '../../src/contracts/refund';
import { payloadCodec } from '../../src/temporal/codec';
import { exportHistory } from '../../scripts/export-history';
import { eventually } from '../support/eventually';
import { expectMoneyAndAccessInStep } from '../support/money-and-access';
import { ORDER_BODY, adminRequest, decideOn, json, newCustomer, postOrder, postRefund, startStack, type Json, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

test('refunding a completed order refunds the charge, revokes access and marks the legacy order refunded, once', async () => {
  const customer = newCustomer();
  expect((await postOrder(stack, customer, 'to-refund')).status).toBe(201);
  const res = await postRefund(stack, customer, 'to-refund', 'refund-1');
  expect(res.status).toBe(201);
  expect(res.headers.get('location')).toBe('/v1/orders/to-refund/refund');
  expect(await json(res)).toMatchObject({ status: 'completed', refund: { orderKey: 'to-refund', payment: 'refunded', access: 'revoked', legacyOrder: 'refunded' } });

  const replay = await postRefund(stack, customer, 'to-refund', 'refund-1');
  expect(replay.status).toBe(201);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');

  const second = await postRefund(stack, customer, 'to-refund', 'refund-2');
  expect(second.status).toBe(409);
  expect((await json(second)).type).toBe('urn:saga-coordinator:problem:transaction-exists');
  expect(second.headers.get('location')).toBe('/v1/orders/to-refund/refund'); // "follow Location", as the detail says

  const refundId = refundWorkflowId(customer, 'to-refund');
  expect((await stack.sims.ledger('payments', refundId)).map((e) => e.op)).toEqual(['refund']);
  expect((await stack.sims.ledger('fulfilment', refundId)).map((e) => e.op)).toEqual(['revoke']);
  expect((await stack.sims.ledger('legacy', refundId)).map((e) => e.op)).toEqual(['refund']);
  expect((await stack.sims.ledger('payments', orderWorkflowId(customer, 'to-refund'))).map((e) => e.op)).toEqual(['charge']);

  const status = await fetch(`${stack.url}/v1/orders/to-refund/refund`, { headers: { authorization: `Bearer ${await stack.token(customer)}` } });
  expect(await json(status)).toMatchObject({ status: 'completed', idempotencyKey: 'refund-1' });
  expect(status.headers.get('idempotency-key-retention')).toBe('86400'); // a status answer, as the README and /openapi.json say
  // A replay fixture of a refund started since refunds ignore Cancel (its patch marker is in it).
  if (process.env.RECORD_HISTORIES === '1') await exportHistory(stack.client, payloadCodec(stack.config), refundId, 'refund-completed-not-cancellable');
});

test('an order that did not complete cannot be refunded: a 409 problem, and nothing is started', async () => {
  const customer = newCustomer();
  expect((await postOrder(stack, customer, 'declined', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } })).status).toBe(422);
  const res = await postRefund(stack, customer, 'declined', 'refund-1');
  expect(res.status).toBe(409);
  expect(await json(res)).toMatchObject({ type: 'urn:saga-coordinator:problem:order-not-refundable', orderStatus: 'compensated' });
  const never = await postRefund(stack, customer, 'no-such-order', 'refund-2');
  expect(never.status).toBe(404);
  expect((await json(never)).type).toBe('urn:saga-coordinator:problem:never-received');
  expect(await stack.sims.ledger('payments', refundWorkflowId(customer, 'declined'))).toEqual([]);
});

test('a refund revokes access before the money goes back: while fulfilment is down the charge stays with its access, never access without a charge', async () => {
  const customer = newCustomer();
  expect((await postOrder(stack, customer, 'revoke-first')).status).toBe(201);
  const refundId = refundWorkflowId(customer, 'revoke-first');
  const orderId = orderWorkflowId(customer, 'revoke-first');
  // Fulfilment answers the revocation with outages, three times.
  await stack.sims.fault('fulfilment', { op: 'revoke', idempotencyKeyPrefix: `${refundId}/`, errorRate: 1, times: 3 });
  expect((await postRefund(stack, customer, 'revoke-first', 'refund-1', undefined, { prefer: 'respond-async' })).status).toBe(202);
  // Once the outages have been met (the rule is used up), the money has still not moved.
  await eventually(async () => ((await stack.sims.faults('fulfilment')).some((f) => f.idempotencyKeyPrefix === `${refundId}/`) ? undefined : true), 30_000);
  // Before: the charge was refunded first, and the access stayed on while fulfilment was down (for up to a day of retries).
  expect(await stack.sims.ledger('payments', refundId)).toEqual([]);
  expect(await expectMoneyAndAccessInStep(stack.sims, orderId, 1)).toEqual(['held']);
  const done = await eventually(async () => {
    const body = await json(await fetch(`${stack.url}/v1/orders/revoke-first/refund`, { headers: { authorization: `Bearer ${await stack.token(customer)}` } }));
    return body.status === 'completed' ? body : undefined;
  }, 30_000);
  expect(done).toMatchObject({ refund: { access: 'revoked', payment: 'refunded', legacyOrder: 'refunded' } });
  expect((await stack.sims.ledger('fulfilment', refundId)).map((e) => e.op)).toEqual(['revoke']);
  expect((await stack.sims.ledger('payments', refundId)).map((e) => e.op)).toEqual(['refund']);
  expect(await expectMoneyAndAccessInStep(stack.sims, orderId, 1)).toEqual(['none']);
  if (process.env.RECORD_HISTORIES === '1') await exportHistory(stack.client, payloadCodec(stack.config), refundId, 'refund-revokes-access-first');
});

/**
 * A completed order whose refund the processor refuses for good (a dispute, recorded under the
 * refund's key as a real one would): the refund revokes access, then parks at refundPayment.
 */
async function refundRefusedByTheProcessor(customer: string, key: string) {
  expect((await postOrder(stack, customer, key)).status).toBe(201);
  const refundId = refundWorkflowId(customer, key);
  await stack.sims.fault('payments', { op: 'refund', idempotencyKey: `${refundId}/refundPayment/1`, reject: { status: 400, code: 'charge_disputed', message: 'The charge is disputed.' } });
  expect((await postRefund(stack, customer, key, 'refund-1', undefined, { prefer: 'respond-async' })).status).toBe(202);
  const view = async () => json(await adminRequest(stack, `/transactions/${encodeURIComponent(refundId)}`));
  const reaches = (check: (view: Json) => boolean) => eventually(async () => (check(await view()) ? true : undefined), 30_000);
  await reaches((v) => v.parked?.step === 'refundPayment');
  return { refundId, orderId: orderWorkflowId(customer, key), reaches, decide: (body: object) => decideOn(stack, refundId, body) };
}

test('a refund the processor refuses after access was revoked: support aborts it and the access comes back, so the charge keeps its access', async () => {
  const { refundId, orderId, reaches, decide } = await refundRefusedByTheProcessor(newCustomer(), 'refused-refund');
  // Parked with access revoked and the money kept: apart until support decides.
  // Before: 422 AbortNotSafe, and the only way out was a skip claiming a refund made by hand.
  expect((await decide({ action: 'abort', reason: 'dispute opened: the processor keeps the charge' })).status).toBe(200);
  await reaches((v) => v.status === 'compensated');
  expect((await stack.sims.ledger('fulfilment', refundId)).map((e) => e.op)).toEqual(['revoke', 'grant']);
  expect(await stack.sims.ledger('payments', refundId)).toEqual([]);
  expect(await expectMoneyAndAccessInStep(stack.sims, orderId, 1)).toEqual(['held']);
  if (process.env.RECORD_HISTORIES === '1') await exportHistory(stack.client, payloadCodec(stack.config), refundId, 'refund-refused-aborted-access-restored');
});

test("a refused refund aborted, then reset from the CLI, revoked again and aborted again, gives the access back again: the restore is one grant per revocation undone", async () => {
  const { refundId, orderId, reaches, decide } = await refundRefusedByTheProcessor(newCustomer(), 'refused-twice');
  expect((await decide({ action: 'abort', reason: 'disputed' })).status).toBe(200);
  await reaches((v) => v.status === 'compensated');
  expect(await expectMoneyAndAccessInStep(stack.sims, orderId, 1)).toEqual(['held']);
  // Support resets the refund from the CLI: its revocation's key was used on the first enrolment, so it parks; a retry revokes the restored one.
  const handle = stack.client.workflow.getHandle(refundId);
  const first = (await handle.describe()).runId;
  expect(await pressCliReset(stack.config, refundId, 'support: try again')).toMatch(/Resetting workflow/);
  await eventually(async () => ((await handle.describe()).runId !== first ? true : undefined), 30_000);
  await reaches((v) => v.parked?.step === 'revokeAccess');
  expect((await decide({ action: 'retry' })).status).toBe(200);
  await reaches((v) => v.parked?.step === 'refundPayment');
  expect((await decide({ action: 'abort', reason: 'still disputed' })).status).toBe(200);
  await reaches((v) => v.status === 'compensated');
  // Before: the second restore was answered from the first one's record (an enrolment revoked since): no access, charge kept.
  expect((await stack.sims.ledger('fulfilment', refundId)).map((e) => e.op)).toEqual(['revoke', 'grant', 'revoke', 'grant']);
  expect(await expectMoneyAndAccessInStep(stack.sims, orderId, 1)).toEqual(['held']);
});

test("a refund whose revocation is still on its way, and whose next look at the grant is refused once, is not taken as refused: it finishes, never parked with the revocation about to land", async () => {
  const customer = newCustomer();
  const key = 'revoke-slow-look-refused';
  expect((await postOrder(stack, customer, key)).status).toBe(201);
  const refundId = refundWorkflowId(customer, key);
  // The revocation lands 4 s after it was sent, long after our 1 s timeout ...
  await stack.sims.fault('fulfilment', { op: 'revoke', idempotencyKeyPrefix: `${refundId}/revokeAccess`, latencyMs: 4_000, times: 1 });
  expect((await postRefund(stack, customer, key, 'refund-1', undefined, { prefer: 'respond-async' })).status).toBe(202);
  await eventually(async () => ((await stack.sims.faults('fulfilment')).some((f) => f.op === 'revoke') ? undefined : true), 10_000, 50);
  // ... and the retry's look for the grant (by reference) is refused once: a look, not the revocation refused.
  await stack.sims.fault('fulfilment', { op: 'list', urlContains: encodeURIComponent(orderWorkflowId(customer, key)), errorRate: 1, status: 422, times: 1 });
  // Before: the refused look parked the refund as refused; an abort then restored "still granted" once,
  // and the revocation landed after it: the charge kept, the access gone.
  const done = await eventually(async () => {
    const res = await fetch(`${stack.url}/v1/orders/${key}/refund`, { headers: { authorization: `Bearer ${await stack.token(customer)}` } });
    const body = await json(res);
    if (body.status === 'needs_attention') throw new Error(`parked: ${JSON.stringify(body.parked)}`);
    return body.status === 'completed' ? body : undefined;
  }, 30_000);
  expect(done.status).toBe('completed');
  expect(await expectMoneyAndAccessInStep(stack.sims, orderWorkflowId(customer, key), 1)).toEqual(['none']);
});
