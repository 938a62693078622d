/**
 * Webhook events no running saga could take when they arrived.
 *
 * webhookEventRecord: the durable record of an event whose saga had already finished (or never
 * was ours). Its workflow ID is the event's ID, so a redelivery is recognised, and support finds
 * it in the Web UI next to the saga. It does nothing else.
 *
 * heldWebhookEvents: the events that came *before* their saga started, held per saga. The edge
 * reads them just before it starts the saga and hands them over in the start itself, so the saga
 * has them before its first step however fast it runs; the saga and the edge both tell this
 * workflow which it got (the saga's word is durable; the edge's, best effort, is the quicker). Any other (one that came while the saga was being started) is signalled to the saga; if
 * the saga has already finished, it is recorded as late, like any event for a finished saga. For a
 * saga started elsewhere it tries now and then by itself (250 ms doubling to 30 s); after
 * EARLY_EVENT_HOLD_MS without a saga it ends, listing what it kept.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, WorkflowIdReusePolicy, allHandlersFinished, condition, getExternalWorkflowHandle, patched, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import type { WebhookEvent } from '../contracts/transaction';
import { EARLY_EVENT_HOLD_MS, LATE_EVENT_WORKFLOW, customerSearchAttributes, heldEventsQuery, holdEventSignal, lateEventWorkflowId, sagaStartedSignal, webhookEventKey, webhookEventSignal } from '../contracts/transaction-protocol';

/** Histories from before it kept an event the finished saga could not take, instead of recording it as late. */
const LATE_HELD_EVENTS_PATCH = 'held-events-recorded-late';
/** Histories from before it signalled every held event, even those the saga got in its start. */
const HANDED_OVER_PATCH = 'held-events-handed-over';

export async function webhookEventRecord(event: WebhookEvent & { target: string }): Promise<WebhookEvent & { target: string }> {
  return event;
}

export interface HeldEventsOutcome {
  target: string;
  delivered: string[];
  undelivered: string[];
  /** Came while the saga was being started, and it finished before they could be handed over: kept as `webhookEventRecord`s. */
  recordedLate?: string[];
}

export async function heldWebhookEvents({ target }: { target: string }): Promise<HeldEventsOutcome> {
  const pending: WebhookEvent[] = [];
  const seen = new Set<string>();
  const delivered: string[] = [];
  const recordedLate: string[] = [];
  let woken = false;
  let started = false;
  setHandler(holdEventSignal, (event) => {
    if (seen.has(webhookEventKey(event))) return; // a redelivery
    seen.add(webhookEventKey(event));
    pending.push(event);
  });
  setHandler(heldEventsQuery, () => pending.map((e) => ({ ...e })));
  setHandler(sagaStartedSignal, (news) => {
    woken = true;
    started = true;
    // (Behind a patch: a holder that signalled every held event before handed-over lists existed replays as it ran.)
    if (!news?.handedOver?.length || !patched(HANDED_OVER_PATCH)) return;
    const handedOver = new Set(news.handedOver.map(webhookEventKey));
    for (const event of pending) if (handedOver.has(webhookEventKey(event))) delivered.push(event.eventId);
    pending.splice(0, pending.length, ...pending.filter((event) => !handedOver.has(webhookEventKey(event))));
  });

  const deadline = workflowInfo().startTime.getTime() + EARLY_EVENT_HOLD_MS;
  for (let waitMs = 250; ; waitMs = Math.min(waitMs * 2, 30_000)) {
    while (pending.length > 0) {
      const event = pending[0]!;
      try {
        await getExternalWorkflowHandle(target).signal(webhookEventSignal, event);
      } catch {
        break; // the saga does not exist yet, or no longer runs
      }
      // By identity: while the signal was in flight, the saga may have said which events it got in its start.
      const at = pending.indexOf(event);
      if (at >= 0) delivered.push(pending.splice(at, 1)[0]!.eventId);
    }
    // The edge said it started the saga, and it cannot be signalled: it has already finished.
    if (pending.length > 0 && started && patched(LATE_HELD_EVENTS_PATCH)) {
      for (const event of pending.splice(0)) recordedLate.push(await recordLate(event, target));
    }
    if (pending.length === 0 || Date.now() + waitMs > deadline) break;
    woken = false;
    await condition(() => woken, waitMs);
  }
  await condition(allHandlersFinished);
  return { target, delivered, undelivered: pending.map((e) => e.eventId), ...(recordedLate.length > 0 ? { recordedLate } : {}) };
}

/** The same record the receiver keeps for an event whose saga has finished (its ID is the event's: once). */
async function recordLate(event: WebhookEvent, target: string): Promise<string> {
  try {
    await startChild(LATE_EVENT_WORKFLOW, {
      workflowId: lateEventWorkflowId(event.source, event.eventId),
      args: [{ ...event, target }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: customerSearchAttributes(target),
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return event.eventId;
}
