/**
 * A short blip must not become mass refunds: while a downstream's breaker is open, calls fail fast
 * to protect it, but that must not use up the customer's retry budget. Here payment answers are
 * dropped (the charge commits, the answer is lost) often enough to open the payments breaker with
 * many orders in flight: every order still completes, charged exactly once, none compensated.
 */
import { orderWorkflowId } from '../../src/contracts/order';
import { eventually } from '../support/eventually';
import { getOrder, json, newCustomer, postOrder, startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ BREAKER_THRESHOLD: '3', BREAKER_HALF_OPEN_MS: '1000' });
});
afterAll(async () => {
  await stack?.stop();
});

test('dropped answers that open the breaker delay orders but never compensate them; one charge each', async () => {
  const customer = newCustomer('blip');
  const keys = Array.from({ length: 10 }, (_, i) => `blip-${i}`);
  // Twenty dropped answers, spread over whichever charges come first (original calls and retries).
  const removeFault = await stack.sims.fault('payments', { op: 'charge', idempotencyKeyPrefix: `order:${customer}:`, dropResponseRate: 1, times: 20 });
  try {
    const placed = await Promise.all(keys.map((k) => postOrder(stack, customer, k, undefined, { prefer: 'respond-async' })));
    expect(placed.map((r) => r.status)).toEqual(keys.map(() => 202));
    const outcomes = await Promise.all(
      keys.map((k) =>
        eventually(async () => {
          const body = await json(await getOrder(stack, customer, k));
          return ['completed', 'compensated', 'failed', 'needs_attention'].includes(body.status) ? body.status : undefined;
        }, 120_000, 500),
      ),
    );
    expect(outcomes).toEqual(keys.map(() => 'completed'));
  } finally {
    await removeFault();
  }
  for (const k of keys) {
    const effects = await stack.sims.ledger('payments', `${orderWorkflowId(customer, k)}/`);
    expect(effects.map((e) => e.op)).toEqual(['charge']);
  }
}, 180_000);
