/**
 * Webhook events no running saga could take when they arrived.
 *
 * webhookEventRecord: the durable record of an event whose saga had already finished (or never
 * was ours). Its workflow ID is the event's ID, so a redelivery is recognised, and support finds
 * it in the Web UI next to the saga. It does nothing else.
 *
 * heldWebhookEvents: the events that came *before* their saga started, held per saga and handed to
 * it as soon as it exists — woken by the edge when it starts the saga, and trying now and then by
 * itself (250 ms doubling to 30 s) in case the saga was started elsewhere. An event is never left
 * here while its saga runs; after EARLY_EVENT_HOLD_MS without a saga it ends, listing what it kept.
 */
import { allHandlersFinished, condition, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import type { WebhookEvent } from '../contracts/transaction';
import { EARLY_EVENT_HOLD_MS, holdEventSignal, sagaStartedSignal, webhookEventSignal } from '../contracts/transaction-protocol';

export async function webhookEventRecord(event: WebhookEvent & { target: string }): Promise<WebhookEvent & { target: string }> {
  return event;
}

export interface HeldEventsOutcome {
  target: string;
  delivered: string[];
  undelivered: string[];
}

export async function heldWebhookEvents({ target }: { target: string }): Promise<HeldEventsOutcome> {
  const pending: WebhookEvent[] = [];
  const seen = new Set<string>();
  const delivered: string[] = [];
  let woken = false;
  setHandler(holdEventSignal, (event) => {
    const id = `${event.source}\u0000${event.eventId}`;
    if (seen.has(id)) return; // a redelivery
    seen.add(id);
    pending.push(event);
  });
  setHandler(sagaStartedSignal, () => {
    woken = true;
  });

  const deadline = workflowInfo().startTime.getTime() + EARLY_EVENT_HOLD_MS;
  for (let waitMs = 250; ; waitMs = Math.min(waitMs * 2, 30_000)) {
    while (pending.length > 0) {
      try {
        await getExternalWorkflowHandle(target).signal(webhookEventSignal, pending[0]!);
        delivered.push(pending.shift()!.eventId);
      } catch {
        break; // the saga does not exist yet (or no longer runs)
      }
    }
    if (pending.length === 0 || Date.now() + waitMs > deadline) break;
    woken = false;
    await condition(() => woken, waitMs);
  }
  await condition(allHandlersFinished);
  return { target, delivered, undelivered: pending.map((e) => e.eventId) };
}
