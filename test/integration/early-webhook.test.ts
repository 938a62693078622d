/**
 * A webhook that arrives before its saga has started is never left in a side record: the receiver
 * acknowledges it only once it is durably held (a record workflow), and the saga gets it in its
 * start, so even a saga that finishes at once has it. Signatures come from the provider's own library (standardwebhooks).
 */
import { Webhook } from 'standardwebhooks';
import { heldEventsWorkflowId, orderWorkflowId } from '../../src/contracts/order';
import { ORDER_BODY, STANDARD_WEBHOOK_SECRETS, getOrder, json, newCustomer, postOrder, startStack, type Json, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function partnerEvent(msgId: string, reference: string): Promise<Response> {
  const payload = JSON.stringify({ type: 'enrollment.reviewed', data: { reference } });
  const at = new Date();
  const signature = new Webhook(STANDARD_WEBHOOK_SECRETS[0]!).sign(msgId, at, payload);
  return fetch(`${stack.url}/v1/webhooks/fulfilment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature },
    body: payload,
  });
}

test('an event for a transaction not started yet is held, and reaches the saga once it starts; a redelivery changes nothing', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'early-partner');
  const msgId = `msg_${customer}`;
  const first = await partnerEvent(msgId, id);
  expect(first.status).toBe(200);
  expect(await json(first)).toMatchObject({ received: true, result: 'held-until-started' });
  expect(await json(await partnerEvent(msgId, id))).toMatchObject({ result: 'held-until-started' }); // a redelivery, held once
  expect((await getOrder(stack, customer, 'early-partner')).status).toBe(404); // the order itself is still never received

  // Handed over in the saga's start: the answer to the order itself lists it, however fast the saga ran.
  const placed = await postOrder(stack, customer, 'early-partner', ORDER_BODY);
  expect(placed.status).toBe(201);
  const status: Json = await json(placed);
  expect(status.status).toBe('completed');
  expect(status.events).toEqual([expect.objectContaining({ source: 'fulfilment', eventId: msgId, type: 'enrollment.reviewed', effect: 'recorded' })]);
  const held = (await stack.client.workflow.getHandle(heldEventsWorkflowId(id)).result()) as Json;
  expect(held).toEqual({ target: id, delivered: [msgId], undelivered: [] });

  // The saga has finished: a redelivery is recorded as late, and the saga's events do not change.
  expect(await json(await partnerEvent(msgId, id))).toMatchObject({ result: 'recorded-late' });
  const again = await json(await getOrder(stack, customer, 'early-partner'));
  expect(again.events).toHaveLength(1);
});
