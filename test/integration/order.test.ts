/**
 * The order saga end to end: real dev server, real workers, the real API on port 0 and the
 * simulators' ledgers as the source of truth for what happened downstream.
 */
import { orderWorkflowId } from '../../src/contracts/order';
import { eventually } from '../support/eventually';
import { ORDER_BODY, getOrder, json, newCustomer, postOrder, startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function ledgers(prefix: string) {
  const [legacy, payments, fulfilment] = await Promise.all([stack.sims.ledger('legacy', prefix), stack.sims.ledger('payments', prefix), stack.sims.ledger('fulfilment', prefix)]);
  return { legacy: legacy.map((e) => e.op), payments: payments.map((e) => e.op), fulfilment: fulfilment.map((e) => e.op) };
}

test('a placed order completes and every downstream shows exactly one effect per step', async () => {
  const customer = newCustomer();
  const res = await postOrder(stack, customer, 'order-1');
  expect(res.status).toBe(201);
  expect(res.headers.get('location')).toBe('/v1/orders/order-1');
  // The dev server's namespace keeps closed workflows (and so keys) for a day.
  expect(res.headers.get('idempotency-key-retention')).toBe('86400');
  const body = await json(res);
  expect(body).toMatchObject({ status: 'completed', transactionId: orderWorkflowId(customer, 'order-1'), order: { total: { amount: '49.00', currency: 'USD' } } });
  expect(body.order.orderNumber).toMatch(/^EC-\d+$/);
  expect(await ledgers(`order:${customer}:`)).toEqual({ legacy: ['create', 'complete'], payments: ['charge'], fulfilment: ['grant'] });
});

test('a declined card ends compensated: the legacy order is cancelled, no access granted, nothing charged', async () => {
  const customer = newCustomer();
  const res = await postOrder(stack, customer, 'declined', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } });
  expect(res.status).toBe(422);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = await json(res);
  expect(problem).toMatchObject({ type: 'urn:saga-coordinator:problem:transaction-failed', status: 422, reason: 'PaymentDeclined', failedStep: 'chargePayment', sagaStatus: 'compensated' });
  expect(problem.compensated).toEqual([
    { step: 'createOrder', compensation: 'cancelOrder', outcome: 'cancelled' },
    { step: 'chargePayment', compensation: 'refundPayment', outcome: 'not_charged' },
  ]);
  expect(JSON.stringify(problem)).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  expect(await ledgers(`order:${customer}:`)).toEqual({ legacy: ['create', 'cancel'], payments: [], fulfilment: [] });

  const status = await getOrder(stack, customer, 'declined');
  expect(status.status).toBe(200);
  expect(await json(status)).toMatchObject({ status: 'compensated', failure: { step: 'chargePayment', type: 'PaymentDeclined' } });
});

test('retrying with the same key replays the outcome and adds nothing to any ledger', async () => {
  const customer = newCustomer();
  const first = await postOrder(stack, customer, 'again');
  expect(first.status).toBe(201);
  const firstBody = await json(first);
  const second = await postOrder(stack, customer, 'again');
  expect(second.status).toBe(201);
  expect(second.headers.get('idempotent-replayed')).toBe('true');
  expect(await json(second)).toEqual(firstBody);
  expect(await ledgers(`order:${customer}:`)).toEqual({ legacy: ['create', 'complete'], payments: ['charge'], fulfilment: ['grant'] });
});

test('a payments timeout after the charge was performed still ends with exactly one charge', async () => {
  const customer = newCustomer();
  const key = `${orderWorkflowId(customer, 'slow')}/chargePayment/1`;
  await stack.sims.fault('payments', { op: 'charge', idempotencyKey: key, timeoutRate: 1, times: 1 });
  const res = await postOrder(stack, customer, 'slow');
  expect(res.status).toBe(201);
  const charges = await stack.sims.ledger('payments', `order:${customer}:`);
  expect(charges).toHaveLength(1);
  expect(charges[0]!.idempotencyKey).toBe(key);
  expect((await json(res)).order.chargeId).toBe(charges[0]!.ref);
});

test('a response dropped after the downstream committed is retried with the same key: one effect', async () => {
  const customer = newCustomer();
  const key = `${orderWorkflowId(customer, 'dropped')}/grantAccess/1`;
  await stack.sims.fault('fulfilment', { op: 'grant', idempotencyKey: key, dropResponseRate: 1, times: 1 });
  const res = await postOrder(stack, customer, 'dropped');
  expect(res.status).toBe(201);
  expect(await ledgers(`order:${customer}:`)).toEqual({ legacy: ['create', 'complete'], payments: ['charge'], fulfilment: ['grant'] });
});

describe('the edge rejects bad requests with problem details and changes nothing', () => {
  test('a missing Idempotency-Key is a 400', async () => {
    const customer = newCustomer();
    const res = await postOrder(stack, customer, undefined);
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ type: 'urn:saga-coordinator:problem:idempotency-key-missing', status: 400 });
    expect(await ledgers(`order:${customer}:`)).toEqual({ legacy: [], payments: [], fulfilment: [] });
  });

  test('an invalid body is a 400 that names every bad field', async () => {
    const res = await postOrder(stack, newCustomer(), 'bad-body', { items: [{ sku: '', quantity: 0, unitPrice: '4.999' }], currency: 'XXX' });
    expect(res.status).toBe(400);
    const problem = await json(res);
    expect(problem.type).toBe('urn:saga-coordinator:problem:invalid-body');
    expect(problem.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(
      ['#/currency', '#/items/0/quantity', '#/items/0/sku', '#/items/0/unitPrice', '#/paymentMethod'].sort(),
    );
  });

  test('malformed JSON is a 400, not a 500', async () => {
    const res = await postOrder(stack, newCustomer(), 'malformed', '{"items": [');
    expect(res.status).toBe(400);
    expect((await json(res)).type).toBe('urn:saga-coordinator:problem:malformed-json');
  });

  test('a request without a valid bearer token is a 401', async () => {
    const res = await fetch(`${stack.url}/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k' }, body: JSON.stringify(ORDER_BODY) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const forged = await fetch(`${stack.url}/v1/orders/k`, { headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' } });
    expect(forged.status).toBe(401);
  });

  test('the same key with a different body is a 422 and starts nothing new', async () => {
    const customer = newCustomer();
    expect((await postOrder(stack, customer, 'reused')).status).toBe(201);
    const res = await postOrder(stack, customer, 'reused', { ...ORDER_BODY, items: [{ ...ORDER_BODY.items[0], quantity: 2 }] });
    expect(res.status).toBe(422);
    expect((await json(res)).type).toBe('urn:saga-coordinator:problem:idempotency-key-reused');
    expect((await ledgers(`order:${customer}:`)).payments).toEqual(['charge']);
  });
});

test('a key that was never received is a 404 that says so, and one customer never sees another’s order', async () => {
  const alice = newCustomer('alice');
  const res = await getOrder(stack, alice, 'never-sent');
  expect(res.status).toBe(404);
  const problem = await json(res);
  expect(problem).toMatchObject({ type: 'urn:saga-coordinator:problem:never-received', status: 404, idempotencyKey: 'never-sent' });
  expect(problem.detail).toMatch(/never received/i);
  expect(res.headers.get('idempotency-key-retention')).toBe('86400');

  expect((await postOrder(stack, alice, 'mine')).status).toBe(201);
  expect((await getOrder(stack, newCustomer('bob'), 'mine')).status).toBe(404);
  expect((await getOrder(stack, alice, 'mine')).status).toBe(200);
});

test('Prefer: wait=N is honoured up to the edge\'s own wait, and Preference-Applied says the wait applied', async () => {
  const customer = newCustomer();
  const res = await postOrder(stack, customer, 'long-wait', ORDER_BODY, { prefer: 'wait=99999999999999999999' });
  expect(res.status).toBe(201);
  // Before: it echoed wait=100000000000000000000 while waiting at most SYNC_WAIT_MAX_MS.
  expect(res.headers.get('preference-applied')).toBe(`wait=${Math.floor(Number(stack.config.SYNC_WAIT_MAX_MS) / 1000)}`);
});

test('Prefer: respond-async answers 202 at once with a status link, and the status resource reaches completed', async () => {
  const customer = newCustomer();
  const res = await postOrder(stack, customer, 'async', ORDER_BODY, { prefer: 'respond-async' });
  expect(res.status).toBe(202);
  expect(res.headers.get('location')).toBe('/v1/orders/async');
  expect(res.headers.get('content-location')).toBe('/v1/orders/async');
  expect(res.headers.get('preference-applied')).toBe('respond-async');
  expect(res.headers.get('retry-after')).toBe('1');
  expect(res.headers.get('vary')).toMatch(/Prefer/);
  const done = await eventually(async () => {
    const body = await json(await getOrder(stack, customer, 'async'));
    return body.status === 'completed' ? body : undefined;
  });
  expect(done.steps.map((s: { state: string }) => s.state)).toEqual(['completed', 'completed', 'completed', 'completed']);
});
