/** GET /v1/orders: the read proxy to the legacy orders API, its per-customer cache, stale answers and purges. */
import { orderWorkflowId, taskQueues, type OrderSagaInput } from '../../src/contracts/order';
import { eventually } from '../support/eventually';
import { ORDER_BODY, json, newCustomer, postOrder, startStack, type Stack } from '../support/stack';

let quick: Stack; // cached copies go stale after 300 ms
let lasting: Stack; // cached copies stay fresh for a minute: only a purge refreshes them
beforeAll(async () => {
  [quick, lasting] = await Promise.all([
    startStack({ HISTORY_CACHE_TTL_MS: '300', HISTORY_TIMEOUT_MS: '500', HISTORY_PURGE_POLL_MS: '200' }),
    startStack({ HISTORY_CACHE_TTL_MS: '60000', HISTORY_PURGE_POLL_MS: '500' }),
  ]);
});
afterAll(async () => {
  await Promise.all([quick?.stop(), lasting?.stop()]);
});

async function history(stack: Stack, customer: string, query = '') {
  return fetch(`${stack.url}/v1/orders${query}`, { headers: { authorization: `Bearer ${await stack.token(customer)}` } });
}

test('a customer sees only their own orders, newest first, paged through to the legacy service', async () => {
  const alice = newCustomer('alice');
  const bob = newCustomer('bob');
  for (const key of ['a1', 'a2', 'a3']) expect((await postOrder(quick, alice, key)).status).toBe(201);
  expect((await postOrder(quick, bob, 'b1')).status).toBe(201);

  const first = await history(quick, alice, '?pageSize=2');
  expect(first.status).toBe(200);
  const page1 = await json(first);
  expect(page1).toMatchObject({ page: 1, pageSize: 2, total: 3, nextPage: 2, stale: false });
  expect(page1.orders).toHaveLength(2);
  expect(page1.orders[0]).toMatchObject({ status: 'completed', total: { amount: '49.00', currency: 'USD' } });
  const page2 = await json(await history(quick, alice, '?pageSize=2&page=2'));
  expect(page2).toMatchObject({ page: 2, total: 3, nextPage: null });
  const numbers = [...page1.orders, ...page2.orders].map((o: { orderNumber: string }) => o.orderNumber);
  expect(new Set(numbers).size).toBe(3);
  expect((await json(await history(quick, bob))).total).toBe(1);

  const bad = await history(quick, alice, '?pageSize=1000');
  expect(bad.status).toBe(400);
  expect((await json(bad)).type).toBe('urn:saga-coordinator:problem:invalid-query');
});

test('when the legacy service is down, the cached copy is served marked stale with its age; with no copy, a 503', async () => {
  const customer = newCustomer();
  expect((await postOrder(quick, customer, 'o1')).status).toBe(201);
  // Time is what this test is about: let the purge watch see the saga's close (two 200 ms polls)
  // before caching, then let the 300 ms copy go stale.
  await new Promise((r) => setTimeout(r, 800));
  const fresh = await history(quick, customer);
  expect(fresh.headers.get('cache-status')).toMatch(/fwd=miss/);
  await new Promise((r) => setTimeout(r, 400));

  const heal = await quick.sims.fault('legacy', { op: 'list', urlContains: `customer_id=${customer}`, errorRate: 1 });
  try {
    const stale = await history(quick, customer);
    expect(stale.status).toBe(200);
    expect(stale.headers.get('cache-status')).toMatch(/hit; detail=stale/);
    expect(Number(stale.headers.get('age'))).toBeGreaterThanOrEqual(0);
    const body = await json(stale);
    expect(body).toMatchObject({ stale: true, total: 1 });

    const stranger = newCustomer();
    const healStranger = await quick.sims.fault('legacy', { op: 'list', urlContains: `customer_id=${stranger}`, errorRate: 1 });
    try {
      const none = await history(quick, stranger);
      expect(none.status).toBe(503);
      expect(none.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await json(none)).type).toBe('urn:saga-coordinator:problem:order-history-unavailable');
    } finally {
      await healStranger();
    }
  } finally {
    await heal();
  }
});

test('a saga that changes the customer’s orders purges their cached history, wherever it was started', async () => {
  const customer = newCustomer();
  expect((await postOrder(lasting, customer, 'first')).status).toBe(201);
  expect((await json(await history(lasting, customer))).total).toBe(1);
  // Cached: a read answers from the cache once the watch (below) has also seen this order in Temporal's
  // index and purged for it (its look overlaps, so a read just after the order may miss once more).
  await eventually(async () => ((await history(lasting, customer)).headers.get('cache-status') === 'saga-coordinator; hit' ? true : undefined), 10_000, 100);

  // Through this API: purged at once.
  expect((await postOrder(lasting, customer, 'second')).status).toBe(201);
  expect((await json(await history(lasting, customer))).total).toBe(2);

  // Started elsewhere (another replica, an operator): purged when Temporal's index shows it.
  const key = 'third';
  const input: OrderSagaInput = { customerId: customer, idempotencyKey: key, order: ORDER_BODY as OrderSagaInput['order'], fingerprint: 'f', startToken: 't', requestId: 'r', receivedAt: new Date().toISOString() };
  await lasting.client.workflow.execute('orderSaga', {
    taskQueue: taskQueues(lasting.config.TASK_QUEUE_PREFIX).orders,
    workflowId: orderWorkflowId(customer, key),
    args: [input],
    typedSearchAttributes: [{ key: { name: 'CustomerId', type: 'KEYWORD' } as never, value: customer as never }],
  });
  await eventually(async () => ((await json(await history(lasting, customer))).total === 3 ? true : undefined), 10_000, 200);
});
