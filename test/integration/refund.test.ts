/** The refund saga through the edge: one refund per completed order, with the orders' edge semantics. */
import { orderWorkflowId } from '../../src/contracts/order';
import { refundWorkflowId } from '../../src/contracts/refund';
import { payloadCodec } from '../../src/temporal/codec';
import { exportHistory } from '../../scripts/export-history';
import { ORDER_BODY, json, newCustomer, postOrder, postRefund, startStack, type Stack } from '../support/stack';

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
