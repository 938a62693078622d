/**
 * Webhook intake end to end: the payments simulator charges asynchronously and delivers signed,
 * retried webhooks to the real API; events are verified, routed to the saga, deduplicated, and
 * never lost. Test signatures come from the providers' own libraries (stripe, standardwebhooks).
 */
import { Webhook } from 'standardwebhooks';
import { lateEventWorkflowId, orderWorkflowId } from '../../src/contracts/order';
import { exportHistory } from '../../scripts/export-history';
import { payloadCodec } from '../../src/temporal/codec';
import { eventually } from '../support/eventually';
import { expectMoneyAndAccessInStep } from '../support/money-and-access';
import { testEnv } from '../support/env';
import { ORDER_BODY, PAYMENTS_WEBHOOK_SECRETS, STANDARD_WEBHOOK_SECRETS, adminRequest, getOrder, json, newCustomer, paymentEvent, postOrder, postPaymentEvent as postPaymentEventTo, startStack, type Json, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ PAYMENT_CONFIRMATION_TIMEOUT_S: '4' });
});
afterAll(async () => {
  await stack?.stop();
});

const paymentsSim = () => testEnv().paymentsUrl;
const pay = (token: string) => ({ ...ORDER_BODY, paymentMethod: { token } });

const postPaymentEvent = (event: Json, options?: Parameters<typeof postPaymentEventTo>[2]) => postPaymentEventTo(stack, event, options);

const simSend = (chargeId: string, type: string, eventId?: string) => stack.sims.sendPaymentEvent(chargeId, type, eventId);

async function chargeOf(id: string): Promise<string> {
  return eventually(async () => (await stack.sims.ledger('payments', id)).find((e) => e.op === 'charge')?.ref);
}

async function statusOf(customer: string, key: string): Promise<Json> {
  return json(await getOrder(stack, customer, key));
}

test('an asynchronous payment completes the order when its signed webhook arrives', async () => {
  const customer = newCustomer();
  await stack.receiveWebhooksFor(customer);
  const res = await postOrder(stack, customer, 'async', pay('tok_async'));
  expect(res.status).toBe(201);
  const body = await json(res);
  expect(body.events).toEqual([expect.objectContaining({ source: 'payments', type: 'payment.succeeded', effect: 'applied' })]);
  const deliveries = (await json(await fetch(`${paymentsSim()}/_sim/webhooks/deliveries?reference=${encodeURIComponent(body.transactionId)}`))).deliveries;
  expect(deliveries.map((d: { status: number }) => d.status)).toEqual([200]);
});

test('an asynchronous decline compensates the order', async () => {
  const customer = newCustomer();
  await stack.receiveWebhooksFor(customer);
  const res = await postOrder(stack, customer, 'async-declined', pay('tok_asyncDeclined'));
  expect(res.status).toBe(422);
  expect(await json(res)).toMatchObject({ reason: 'PaymentDeclined', failedStep: 'chargePayment', sagaStatus: 'compensated' });
  expect((await stack.sims.ledger('legacy', orderWorkflowId(customer, 'async-declined'))).map((e) => e.op)).toEqual(['create', 'cancel']);
});

test('an event that arrives before the saga waits for it (early) is kept and used', async () => {
  const customer = newCustomer();
  await stack.receiveWebhooksFor(customer);
  const res = await postOrder(stack, customer, 'early', pay('tok_asyncEarly'));
  expect(res.status).toBe(201);
  expect((await json(res)).events[0]).toMatchObject({ type: 'payment.succeeded', effect: expect.stringMatching(/^(applied|held)/) });
});

test('a duplicate delivery has no effect, and a late payment.failed after success never un-charges', async () => {
  const customer = newCustomer();
  await stack.receiveWebhooksFor(customer);
  const id = orderWorkflowId(customer, 'dup');
  // Hold the saga after the charge so that the second event finds it still running.
  const release = await stack.sims.fault('fulfilment', { idempotencyKey: `${id}/grantAccess/1`, latencyMs: 1_500, times: 1 });
  expect((await postOrder(stack, customer, 'dup', pay('tok_asyncSilent'), { prefer: 'respond-async' })).status).toBe(202);
  const chargeId = await chargeOf(id);
  await simSend(chargeId, 'payment.succeeded', 'evt_dup_1');
  await simSend(chargeId, 'payment.succeeded', 'evt_dup_1');
  await eventually(async () => ((await statusOf(customer, 'dup')).steps?.find((s: Json) => s.name === 'grantAccess')?.state === 'running' ? true : undefined));
  await simSend(chargeId, 'payment.failed', 'evt_late_fail');
  await release();

  const done = await eventually(async () => {
    const s = await statusOf(customer, 'dup');
    return s.status === 'completed' ? s : undefined;
  });
  expect(done.events).toEqual([
    expect.objectContaining({ eventId: 'evt_dup_1', type: 'payment.succeeded', effect: 'applied' }),
    expect.objectContaining({ eventId: 'evt_late_fail', type: 'payment.failed', effect: 'ignored: the payment already succeeded' }),
  ]);
  expect((await stack.sims.ledger('payments', id)).map((e) => e.op)).toEqual(['charge']);
});

test("a signed event the processor does not bear out (the order's charge still pending there) settles nothing: no access until the processor's own outcome, which here declines it", async () => {
  const customer = newCustomer();
  const key = 'unborne-event';
  const id = orderWorkflowId(customer, key);
  expect((await postOrder(stack, customer, key, pay('tok_asyncSilent'), { prefer: 'respond-async' })).status).toBe(202);
  const chargeId = await chargeOf(id);
  // Signed with the processor's secret and about this order's charge, but for another amount and
  // currency, while the processor still holds the charge as pending.
  const event = paymentEvent('evt_unborne', 'payment.succeeded', chargeId, id);
  (event.data as { object: Json }).object = { ...(event.data as { object: Json }).object, amount: 1, currency: 'eur', status: 'succeeded' };
  expect((await postPaymentEvent(event)).status).toBe(200);
  const held = await eventually(async () => {
    const s = await statusOf(customer, key);
    return String(s.events?.[0]?.effect ?? '').startsWith('ignored') ? s : undefined;
  });
  // Before: the event alone completed the order and granted access against a pending charge.
  expect(held.status).not.toBe('completed');
  expect(held.events[0].effect).toBe(`ignored: the processor holds charge ${chargeId} as pending`);
  expect(await stack.sims.ledger('fulfilment', id)).toEqual([]);
  // The processor fails the charge: its own event (or, at the timeout, its own record) declines the order.
  await simSend(chargeId, 'payment.failed', 'evt_processor_fails');
  await eventually(async () => ((await statusOf(customer, key)).status === 'compensated' ? true : undefined), 20_000);
  expect(await stack.sims.ledger('fulfilment', id)).toEqual([]);
  expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
  if (process.env.RECORD_HISTORIES === '1') await exportHistory(stack.client, payloadCodec(stack.config), id, 'order-webhook-not-borne-out-declined');
});

test('an event for a finished order is acknowledged and recorded, once', async () => {
  const customer = newCustomer();
  expect((await postOrder(stack, customer, 'finished')).status).toBe(201);
  const id = orderWorkflowId(customer, 'finished');
  const chargeId = await chargeOf(id);
  const first = await postPaymentEvent(paymentEvent('evt_after_the_fact', 'payment.failed', chargeId, id));
  expect(first.status).toBe(200);
  expect(await json(first)).toMatchObject({ received: true, result: 'recorded-late' });
  const again = await postPaymentEvent(paymentEvent('evt_after_the_fact', 'payment.failed', chargeId, id));
  expect(await json(again)).toMatchObject({ result: 'duplicate-late' });
  const record = await stack.client.workflow.getHandle(lateEventWorkflowId('payments', 'evt_after_the_fact')).result();
  expect(record).toMatchObject({ target: id, type: 'payment.failed', objectId: chargeId });
  expect((await statusOf(customer, 'finished')).status).toBe('completed');
  // Support's list of the customer's transactions shows the order, not the record of its late event.
  const listed = await json(await adminRequest(stack, `/transactions?customerId=${encodeURIComponent(customer)}`));
  expect(listed.items.map((i: Json) => i.transactionId)).toEqual([id]);
});

describe('signatures', () => {
  async function waitingSaga(key: string) {
    const customer = newCustomer();
    expect((await postOrder(stack, customer, key, pay('tok_asyncSilent'), { prefer: 'respond-async' })).status).toBe(202);
    const id = orderWorkflowId(customer, key);
    return { customer, id, chargeId: await chargeOf(id) };
  }

  test('a forged or expired signature is refused and nothing reaches the saga', async () => {
    const { customer, id, chargeId } = await waitingSaga('forged');
    const forged = await postPaymentEvent(paymentEvent('evt_forged', 'payment.succeeded', chargeId, id), { secret: 'whsec_attacker' });
    expect(forged.status).toBe(400);
    expect((await json(forged)).type).toBe('urn:saga-coordinator:problem:invalid-webhook-signature');
    const expired = await postPaymentEvent(paymentEvent('evt_old', 'payment.succeeded', chargeId, id), { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(expired.status).toBe(400);
    const unsigned = await fetch(`${stack.url}/v1/webhooks/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unsigned.status).toBe(400);
    const status = await statusOf(customer, 'forged');
    expect(status.events).toBeUndefined();
    expect(status.status).toBe('running');
  });

  test('during a rotation an event signed with the previous secret is accepted', async () => {
    const { customer, id, chargeId } = await waitingSaga('rotated');
    await stack.sims.settleCharge(chargeId, 'succeeded');
    const res = await postPaymentEvent(paymentEvent('evt_rotated', 'payment.succeeded', chargeId, id), { secret: PAYMENTS_WEBHOOK_SECRETS[1] });
    expect(res.status).toBe(200);
    const done = await eventually(async () => {
      const s = await statusOf(customer, 'rotated');
      return s.status === 'completed' ? s : undefined;
    });
    expect(done.events[0]).toMatchObject({ eventId: 'evt_rotated', effect: 'applied' });
  });

  test('Standard Webhooks from a partner are verified per source and recorded on the saga', async () => {
    const { customer, id } = await waitingSaga('partner');
    const webhook = new Webhook(STANDARD_WEBHOOK_SECRETS[0]!);
    const send = async (msgId: string, hook: Webhook, source = 'fulfilment') => {
      const payload = JSON.stringify({ type: 'enrollment.reviewed', data: { reference: id } });
      const at = new Date();
      return fetch(`${stack.url}/v1/webhooks/${source}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': hook.sign(msgId, at, payload) },
        body: payload,
      });
    };
    expect((await send('msg_1', webhook)).status).toBe(200);
    expect((await send('msg_1', webhook)).status).toBe(200); // a redelivery
    expect((await send('msg_2', new Webhook(`whsec_${Buffer.from('not-the-partner-key-at-all!!!!!!').toString('base64')}`))).status).toBe(400);
    expect((await send('msg_3', webhook, 'nobody')).status).toBe(404);
    const status = await eventually(async () => {
      const s = await statusOf(customer, 'partner');
      return s.events?.length ? s : undefined;
    });
    expect(status.events).toEqual([expect.objectContaining({ source: 'fulfilment', eventId: 'msg_1', type: 'enrollment.reviewed', effect: 'recorded' })]);
  });

  test("a partner's event typed payment.succeeded pays for nothing: only the processor's event about the charge settles it", async () => {
    const { customer, id, chargeId } = await waitingSaga('partner-pays');
    const payload = JSON.stringify({ type: 'payment.succeeded', data: { reference: id } });
    const at = new Date();
    const res = await fetch(`${stack.url}/v1/webhooks/fulfilment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_pays', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(STANDARD_WEBHOOK_SECRETS[0]!).sign('msg_pays', at, payload) },
      body: payload,
    });
    expect(res.status).toBe(200);
    const ignored = await eventually(async () => {
      const s = await statusOf(customer, 'partner-pays');
      return s.events?.length ? s : undefined;
    });
    expect(ignored.events[0]).toMatchObject({ source: 'fulfilment', eventId: 'msg_pays', effect: expect.stringMatching(/^ignored: only the payment processor/) });
    expect(ignored.status).toBe('running');
    // The downstreams agree: the charge is still pending and nobody was granted access.
    expect((await stack.sims.ledger('fulfilment', id)).filter((e) => e.op === 'grant')).toEqual([]);
    await stack.sims.settleCharge(chargeId, 'succeeded');
    expect(await postPaymentEvent(paymentEvent('evt_pays', 'payment.succeeded', chargeId, id))).toMatchObject({ status: 200 });
    const done = await eventually(async () => {
      const s = await statusOf(customer, 'partner-pays');
      return s.status === 'completed' ? s : undefined;
    });
    expect(done.events.map((e: Json) => [e.eventId, e.effect])).toEqual([['msg_pays', expect.stringMatching(/^ignored/)], ['evt_pays', 'applied']]);
    if (process.env.RECORD_HISTORIES === '1') await exportHistory(stack.client, payloadCodec(stack.config), id, 'order-partner-payment-event-ignored');
  });
});

test('with no payment outcome in time, the pending charge is cancelled and the order compensated', async () => {
  const customer = newCustomer();
  const res = await postOrder(stack, customer, 'silent', pay('tok_asyncSilent'));
  expect(res.status).toBe(422);
  expect(await json(res)).toMatchObject({ reason: 'PaymentTimedOut', sagaStatus: 'compensated' });
  const id = orderWorkflowId(customer, 'silent');
  expect((await stack.sims.ledger('payments', id)).map((e) => e.op)).toEqual(['charge', 'cancel']);
  expect((await stack.sims.ledger('legacy', id)).map((e) => e.op)).toEqual(['create', 'cancel']);
});

test('a charge the processor made whose webhook never arrives is not a failed payment: asked at the timeout, the order completes, charged once', async () => {
  const customer = newCustomer();
  // No webhook endpoint for this customer: the processor settles the charge, and its event reaches no one.
  const res = await postOrder(stack, customer, 'webhook-lost', pay('tok_async'));
  // Before: PaymentTimedOut, and the charge the customer had paid was refunded.
  expect(res.status).toBe(201);
  expect(await json(res)).toMatchObject({ status: 'completed' });
  const id = orderWorkflowId(customer, 'webhook-lost');
  expect((await stack.sims.ledger('payments', id)).map((e) => e.op)).toEqual(['charge']);
  expect((await stack.sims.ledger('fulfilment', id)).map((e) => e.op)).toEqual(['grant']);
  expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['held']);
  if (process.env.RECORD_HISTORIES === '1') await exportHistory(stack.client, payloadCodec(stack.config), id, 'order-webhook-lost-processor-asked');
});

test('a charge that settles between the timeout and its cancel is refunded, not parked: the undo looks again when the cancel finds it no longer pending', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'settles-late');
  // The undo's cancel of the pending charge is slow; the charge succeeds meanwhile.
  await stack.sims.fault('payments', { op: 'cancel', idempotencyKeyPrefix: `${id}/`, latencyMs: 800, times: 1 });
  expect((await postOrder(stack, customer, 'settles-late', pay('tok_asyncSilent'), { prefer: 'respond-async' })).status).toBe(202);
  const chargeId = await chargeOf(id);
  await eventually(async () => ((await stack.sims.faults('payments')).some((f) => f.idempotencyKeyPrefix === `${id}/`) ? undefined : true), 30_000);
  await simSend(chargeId, 'payment.succeeded');
  // Before: the cancel was refused (charge_not_pending) and the order parked with the charge kept and no access.
  const done = await eventually(async () => {
    const body = await statusOf(customer, 'settles-late');
    return body.status === 'compensated' || body.status === 'needs_attention' ? body : undefined;
  }, 30_000);
  expect(done).toMatchObject({ status: 'compensated' });
  expect(done.steps.find((s: Json) => s.name === 'chargePayment')).toMatchObject({ compensationOutcome: 'refunded' });
  expect((await stack.sims.ledger('payments', id)).map((e) => e.op)).toEqual(['charge', 'refund']);
  expect(await expectMoneyAndAccessInStep(stack.sims, id, 1)).toEqual(['none']);
});
