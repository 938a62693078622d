/**
 * Bulkheads: with the legacy service hanging, only the legacy task queue's slots fill up. The API
 * keeps answering, and a saga already past the legacy steps still charges and fulfils on time.
 */
import { orderWorkflowId } from '../../src/contracts/order';
import { eventually } from '../support/eventually';
import { ORDER_BODY, getOrder, json, newCustomer, postOrder, startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  // Two legacy slots, and a breaker that would rather not open during the test's few seconds.
  stack = await startStack({ LEGACY_CONCURRENCY: '2', BREAKER_THRESHOLD: '1000' });
});
afterAll(async () => {
  await stack?.stop();
});

test('a hanging legacy service does not hold up payments, fulfilment or the API', async () => {
  const early = newCustomer('early');
  const stuck = newCustomer('stuck');
  const earlyId = orderWorkflowId(early, 'past-legacy');

  // The early saga is held at its charge while the legacy service goes bad.
  const releaseCharge = await stack.sims.fault('payments', { idempotencyKey: `${earlyId}/chargePayment/1`, latencyMs: 1_500, times: 1 });
  expect((await postOrder(stack, early, 'past-legacy', ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);
  await eventually(async () => ((await stack.sims.ledger('legacy', earlyId)).length === 1 ? true : undefined));

  const healLegacy = await stack.sims.fault('legacy', { op: 'create', idempotencyKeyPrefix: `order:${stuck}:`, timeoutRate: 1 });
  try {
    for (let i = 0; i < 6; i++) expect((await postOrder(stack, stuck, `stuck-${i}`, ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);

    // The early saga charges and grants access while every legacy slot is busy hanging.
    await eventually(async () => ((await stack.sims.ledger('fulfilment', earlyId)).length === 1 ? true : undefined), 15_000);
    expect((await stack.sims.ledger('payments', earlyId)).map((e) => e.op)).toEqual(['charge']);
    // …while none of the stuck sagas has got past its legacy step.
    for (let i = 0; i < 6; i++) {
      const body = await json(await getOrder(stack, stuck, `stuck-${i}`));
      expect(body.steps.find((s: { name: string }) => s.name === 'createOrder').state).toBe('running');
    }

    // The edge still answers reads and accepts commands.
    expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
    expect((await postOrder(stack, newCustomer(), 'meanwhile', ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);
  } finally {
    await healLegacy();
    await releaseCharge();
  }
  // Once legacy recovers, the early saga completes too.
  const done = await eventually(async () => {
    const body = await json(await getOrder(stack, early, 'past-legacy'));
    return body.status === 'completed' ? body : undefined;
  }, 40_000);
  expect(done.order.orderNumber).toMatch(/^EC-/);
}, 90_000);
