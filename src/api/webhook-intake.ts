/**
 * Hands a verified webhook event to Temporal, durably, before the provider gets its 2xx: a signal
 * to the saga its reference names (the saga drops duplicates and ignores out-of-order events); when
 * that saga has not started yet, a record workflow (ID: the event's) that holds the event and hands
 * it to the saga once it starts; when the saga has finished, the same record, kept for support. If
 * Temporal cannot take it, the caller answers 5xx and the provider retries: a 2xx is never sent for
 * an event that was not recorded.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowClient } from '@temporalio/client';
import { HELD_EVENTS_WORKFLOW, LATE_EVENT_WORKFLOW, SAGA_ID_PREFIXES, heldEventsQuery, heldEventsWorkflowId, holdEventSignal, sagaStartedSignal, lateEventWorkflowId, customerSearchAttributes, sagaStarted, transactionOfReference, webhookEventSignal, type WebhookEvent } from '../contracts/transaction';

export type IntakeResult = 'signalled' | 'held-until-started' | 'recorded-late' | 'duplicate-late';

/** Providers time out in seconds; better a quick 503 (they retry) than a late 2xx nobody hears. */
const RECORD_DEADLINE_MS = 3_000;

export class EventNotRecorded extends Error {
  override readonly name = 'EventNotRecorded';
}

/** Records the event in Temporal within the deadline, or throws EventNotRecorded. `reference` is ours, as the event names it. */
export async function deliverWebhookEvent(client: Client, taskQueue: string, reference: string, received: WebhookEvent): Promise<IntakeResult> {
  // A replayed attempt's objects carry `<workflowId>#<n>`: the saga is the workflow, the attempt tells it whether the event is current.
  const target = transactionOfReference(reference);
  const event: WebhookEvent = { ...received, reference };
  try {
    // The gRPC deadline ends the client's own retries; the timer bounds the answer even if they do
    // not stop in time. Should the call land after all, the provider's retry is a duplicate the saga drops.
    const recording = client.withDeadline(Date.now() + RECORD_DEADLINE_MS, () => record(client, taskQueue, target, event));
    recording.catch(() => undefined); // its failure, if it loses the race, is already answered with a 503
    let timer: NodeJS.Timeout | undefined;
    const tooLate = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EventNotRecorded(`event ${event.eventId} not recorded within ${RECORD_DEADLINE_MS} ms`)), RECORD_DEADLINE_MS + 250);
    });
    try {
      return await Promise.race([recording, tooLate]);
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    if (err instanceof EventNotRecorded) throw err;
    throw new EventNotRecorded(`event ${event.eventId} not recorded: ${(err as Error).message}`, { cause: err });
  }
}

async function record(client: Client, taskQueue: string, target: string, event: WebhookEvent): Promise<IntakeResult> {
  if (SAGA_ID_PREFIXES.some((p) => target.startsWith(p))) {
    try {
      await client.workflow.getHandle(target).signal(webhookEventSignal, event);
      return 'signalled';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    // Not running: finished (a late event, recorded below), or not started yet (held for the saga).
    const started = await client.workflow
      .getHandle(target)
      .describe()
      .then(
        () => true,
        (err: unknown) => (err instanceof WorkflowNotFoundError ? false : Promise.reject(err)),
      );
    if (!started) {
      await client.workflow.signalWithStart(HELD_EVENTS_WORKFLOW, {
        taskQueue,
        workflowId: heldEventsWorkflowId(target),
        args: [{ target }],
        signal: holdEventSignal,
        signalArgs: [event],
        typedSearchAttributes: customerSearchAttributes(target),
      });
      // The saga may have started (and even finished) since we looked, and its edge told no holder:
      // tell it now, so it hands the event over or records it as late instead of holding it for an hour.
      const since = await client.workflow.getHandle(target).describe().then(() => true, () => false);
      if (since) announceSagaStarted(client, target);
      return 'held-until-started';
    }
  }
  try {
    await client.workflow.start(LATE_EVENT_WORKFLOW, {
      taskQueue,
      workflowId: lateEventWorkflowId(event.source, event.eventId),
      args: [{ ...event, target }],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: customerSearchAttributes(target),
    });
    return 'recorded-late';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'duplicate-late';
    throw err;
  }
}

/**
 * The events held for a saga that is about to start (usually none: the query finds no holder and
 * costs one round trip; give a client that refuses queries to closed workflows, so an ended hold
 * wakes no worker). Best effort within `deadlineMs`: whatever is not handed over in the start
 * the holder signals to the saga once told it started.
 */
export async function heldEventsFor(workflows: WorkflowClient, sagaId: string, deadlineMs: number): Promise<WebhookEvent[]> {
  try {
    return await workflows.withDeadline(Date.now() + deadlineMs, () => workflows.getHandle(heldEventsWorkflowId(sagaId)).query(heldEventsQuery));
  } catch {
    return []; // none held (no such workflow, or its hold ended), or not readable now
  }
}

/** Tells the events held for a saga that it has started, and which it got in its start (best effort: they also look by themselves). */
export function announceSagaStarted(client: Client, sagaId: string, handedOver: WebhookEvent[] = []): void {
  client.workflow
    .getHandle(heldEventsWorkflowId(sagaId))
    .signal(sagaStartedSignal, sagaStarted(handedOver))
    .catch(() => undefined); // usually none are held: nothing to tell
}
