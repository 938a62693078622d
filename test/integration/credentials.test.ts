/**
 * Credentials per region or tier: the caller's token says its region, the saga carries it, and
 * every downstream call made for it uses the keys configured for that region (others use the
 * default keys). Here the EU payments key is one the provider does not know, so only EU
 * customers' payment calls are refused — which shows which key each call used.
 */
import { orderWorkflowId } from '../../src/contracts/order';
import { eventually } from '../support/eventually';
import { ORDER_BODY, getOrder, json, newCustomer, startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ PAYMENTS_API_KEYS_BY_REGION: JSON.stringify({ eu: 'sk_test_eu_unknown_to_provider' }) });
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

test('a customer in a region with its own keys is charged with those keys; others with the default keys', async () => {
  const us = newCustomer('us');
  expect((await place(us)).status).toBe(201);

  // The EU charge is refused (401 → non-retryable), and so is the refund lookup its compensation
  // makes with the same EU key: a compensation that fails for good parks the saga for support.
  const eu = newCustomer('eu');
  expect((await place(eu, 'eu', 'respond-async')).status).toBe(202);
  const parked = await eventually(async () => {
    const body = await json(await getOrder(stack, eu, 'k1'));
    return body.status === 'needs_attention' ? body : undefined;
  });
  expect(parked.failure).toMatchObject({ step: 'chargePayment', type: 'PaymentRejected' });
  expect(parked.parked).toMatchObject({ step: 'chargePayment', kind: 'compensation', error: { type: 'CompensationRejected' } });
  expect(await stack.sims.ledger('payments', orderWorkflowId(eu, 'k1'))).toEqual([]);

  // A region without keys of its own falls back to the default keys.
  expect((await place(newCustomer('apac'), 'apac')).status).toBe(201);
});
