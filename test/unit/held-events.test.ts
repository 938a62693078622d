/**
 * Webhook events that came before their saga existed, on the time-skipping test server: handed over
 * in the saga's start they are in its status before its first step; the holder counts those as
 * delivered, signals any other to a running saga, and records it as late when the saga has already
 * finished — never left "undelivered" for an hour next to a finished saga.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { HELD_EVENTS_WORKFLOW, heldEventsQuery, heldEventsWorkflowId, holdEventSignal, lateEventWorkflowId, orderWorkflowId, sagaStartedSignal, type OrderSagaInput, type OrderStatus, type WebhookEvent } from '../../src/contracts/order';
import { driveWorkflow, runWorkflow, stubActivities, type Calls, timeSkippingEnvironment } from '../support/saga-harness';
import { eventually } from '../support/eventually';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

function input(key: string, earlyEvents?: WebhookEvent[]): OrderSagaInput {
  return {
    customerId: 'alice',
    idempotencyKey: key,
    order: { items: [{ sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '49.00' }], currency: 'USD', paymentMethod: { token: 'tok_visa' } },
    fingerprint: 'f',
    startToken: 's',
    requestId: 'req-1',
    receivedAt: '2026-11-22T00:00:00.000Z',
    ...(earlyEvents ? { earlyEvents } : {}),
  };
}

const reviewed = (eventId: string): WebhookEvent => ({ source: 'fulfilment', eventId, type: 'enrollment.reviewed', receivedAt: '2026-11-21T23:59:59.000Z' });

test('events handed over in the start are in the saga before its first step, once each', async () => {
  const calls: Calls = [];
  const key = 'early-in-start';
  const result = (await runWorkflow(env, 'orderSaga', orderWorkflowId('alice', key), input(key, [reviewed('evt_a'), reviewed('evt_a'), reviewed('evt_b')]), stubActivities(calls))) as OrderStatus;
  expect(result.status).toBe('completed');
  expect(result.events).toEqual([expect.objectContaining({ eventId: 'evt_a', effect: 'recorded' }), expect.objectContaining({ eventId: 'evt_b', effect: 'recorded' })]);
  expect(calls).toHaveLength(4); // an informational event changes nothing the saga does
});

test('the saga itself tells the holder which events it got in its start: they count as delivered, never signalled again', async () => {
  const key = 'saga-tells-holder';
  const target = orderWorkflowId('alice', key);
  const calls: Calls = [];
  const outcome = await driveWorkflow(env, HELD_EVENTS_WORKFLOW, heldEventsWorkflowId(target), { target }, stubActivities([]), async (holder) => {
    await holder.signal(holdEventSignal, reviewed('evt_1'));
    await holder.signal(holdEventSignal, reviewed('evt_2'));
    // As the edge starts it, minus the edge's own word to the holder (say the API died right after the start).
    const result = (await runWorkflow(env, 'orderSaga', target, input(key, [reviewed('evt_1'), reviewed('evt_2')]), stubActivities(calls))) as OrderStatus;
    expect(result.events?.map((e) => e.eventId)).toEqual(['evt_1', 'evt_2']);
  });
  expect(outcome).toEqual({ target, delivered: ['evt_1', 'evt_2'], undelivered: [] });
});

test('the holder counts the handed-over events as delivered, and records as late any other its finished saga can no longer take', async () => {
  const key = 'finished-first';
  const target = orderWorkflowId('alice', key);
  expect(((await runWorkflow(env, 'orderSaga', target, input(key), stubActivities([]))) as OrderStatus).status).toBe('completed');

  const outcome = await driveWorkflow(env, HELD_EVENTS_WORKFLOW, heldEventsWorkflowId(target), { target }, stubActivities([]), async (holder) => {
    await holder.signal(holdEventSignal, reviewed('evt_handed'));
    await holder.signal(holdEventSignal, reviewed('evt_came_later'));
    await holder.signal(holdEventSignal, reviewed('evt_handed')); // a redelivery, held once
    expect((await holder.query(heldEventsQuery)).map((e) => e.eventId)).toEqual(['evt_handed', 'evt_came_later']);
    await holder.signal(sagaStartedSignal, { handedOver: [{ source: 'fulfilment', eventId: 'evt_handed' }] });
  });
  expect(outcome).toEqual({ target, delivered: ['evt_handed'], undelivered: [], recordedLate: ['evt_came_later'] });
  // The same record the receiver keeps for any event whose saga has finished, found by the event's ID.
  const record = await env.client.workflow.getHandle(lateEventWorkflowId('fulfilment', 'evt_came_later')).result();
  expect(record).toEqual({ ...reviewed('evt_came_later'), target });
});

test('before its saga exists the holder keeps trying; once the saga runs, the events are signalled to it', async () => {
  const key = 'started-elsewhere';
  const target = orderWorkflowId('alice', key);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const calls: Calls = [];
  // The saga waits in its first step until the holder has handed the event over.
  const activities = stubActivities(calls, {
    legacyEcommerce: {
      createOrder: async () => {
        await released;
        return { orderNumber: 'EC-1', totalMinor: 4900 };
      },
    },
  });
  const holderOutcome = driveWorkflow(env, HELD_EVENTS_WORKFLOW, heldEventsWorkflowId(target), { target }, stubActivities([]), async (holder) => {
    await holder.signal(holdEventSignal, reviewed('evt_early'));
  });
  // Its steps on their queues: a local activity held this long would hold the saga's workflow task
  // while the test server skips time for the holder, and time that task out (this test is about the holder).
  const saga = driveWorkflow(env, 'orderSaga', target, { ...input(key), fastPath: false }, activities, async () => {
    // The holder's own workers start concurrently: tell it once it exists.
    const holder = env.client.workflow.getHandle(heldEventsWorkflowId(target));
    await eventually(() => holder.describe().then(() => true, () => undefined), 10_000, 25);
    await holder.signal(sagaStartedSignal); // an older edge: no handed-over list
    await holderOutcome;
    release();
  });
  expect(await holderOutcome).toEqual({ target, delivered: ['evt_early'], undelivered: [] });
  const result = (await saga) as OrderStatus;
  expect(result.events).toEqual([expect.objectContaining({ eventId: 'evt_early', effect: 'recorded' })]);
});
