/**
 * Credentials per region or tier, and what happens when a downstream refuses ours. The caller's
 * token says its region, the saga carries it, and every downstream call made for it uses the keys
 * configured for that region (others use the default keys). Here the EU payments key is one the
 * provider does not know yet: EU orders wait — our credentials refused is an operational fault,
 * never the customer's failure — and complete, charged once, once the provider accepts the key.
 */
import { orderWorkflowId } from '../../src/contracts/order';
import { eventually } from '../support/eventually';
import { ORDER_BODY, getOrder, json, newCustomer, startStack, type Stack } from '../support/stack';

const EU_KEY = `sk_test_eu_${Date.now()}`;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ PAYMENTS_API_KEYS_BY_REGION: JSON.stringify({ eu: EU_KEY }) });
});
afterAll(async () => {
  await stack?.stop();
});

async function place(customer: string, region?: string, prefer = '') {
  return fetch(`${stack.url}/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await stack.token(customer, [], region)}`, 'content-type': 'application/json', 'idempotency-key': 'k1', prefer },
    body: JSON.stringify(ORDER_BODY),
  });
}

test('a key the downstream refuses makes orders wait and retry with the same key, never compensate; once it is accepted they complete, charged once', async () => {
  const us = newCustomer('us');
  expect((await place(us)).status).toBe(201);

  const eu = newCustomer('eu');
  expect((await place(eu, 'eu', 'respond-async')).status).toBe(202);
  const waiting = await eventually(async () => {
    const body = await json(await getOrder(stack, eu, 'k1'));
    const charge = body.steps?.find((s: { name: string }) => s.name === 'chargePayment');
    return charge?.error?.type === 'DownstreamAuthFailed' ? body : undefined;
  }, 30_000);
  // Still running: nothing parked, nothing compensated, nothing charged.
  expect(waiting.status).toBe('running');
  expect(waiting.steps.find((s: { name: string }) => s.name === 'createOrder').state).toBe('completed');
  expect(await stack.sims.ledger('payments', orderWorkflowId(eu, 'k1'))).toEqual([]);
  expect((await stack.sims.ledger('legacy', orderWorkflowId(eu, 'k1'))).map((e) => e.op)).toEqual(['create']);

  // The provider registers the new key (the operator's fix): the waiting order goes on by itself.
  const accepted = await fetch(`${stack.sims.url('payments')}/_sim/api-keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accept: [EU_KEY] }) });
  expect(accepted.status).toBe(200);
  const done = await eventually(async () => {
    const body = await json(await getOrder(stack, eu, 'k1'));
    return body.status === 'completed' ? body : undefined;
  }, 30_000);
  expect(done.order.total.amount).toBe('49.00');
  expect((await stack.sims.ledger('payments', orderWorkflowId(eu, 'k1'))).map((e) => e.op)).toEqual(['charge']);
  expect((await stack.sims.ledger('legacy', orderWorkflowId(eu, 'k1'))).map((e) => e.op)).toEqual(['create', 'complete']);

  // A region without keys of its own falls back to the default keys.
  expect((await place(newCustomer('apac'), 'apac')).status).toBe(201);
});
