/**
 * webhookEventRecord: the durable record of a webhook event that no running saga could take when
 * it arrived. Its workflow ID is the event's ID, so a redelivery is recognised, and support finds it
 * in the Web UI next to the saga. An event whose saga had already finished is only kept. An event
 * that came *before* its saga started (`early`) is held and handed to the saga as soon as it
 * exists, for up to EARLY_EVENT_HOLD_MS: it never stays in the side record while the saga runs.
 */
import { getExternalWorkflowHandle, sleep, workflowInfo } from '@temporalio/workflow';
import { EARLY_EVENT_HOLD_MS, webhookEventSignal, type WebhookEvent } from '../contracts/transaction';

export interface RecordedWebhookEvent extends WebhookEvent {
  target: string;
  /** The target saga had not started yet: deliver it when it does. */
  early?: boolean;
}

export async function webhookEventRecord(event: RecordedWebhookEvent): Promise<RecordedWebhookEvent & { deliveredAt?: string }> {
  if (!event.early) return event;
  const { source, eventId, type, receivedAt, objectId, reason, reference } = event;
  const deadline = workflowInfo().startTime.getTime() + EARLY_EVENT_HOLD_MS;
  for (let waitMs = 250; ; waitMs = Math.min(waitMs * 2, 30_000)) {
    try {
      await getExternalWorkflowHandle(event.target).signal(webhookEventSignal, { source, eventId, type, receivedAt, objectId, reason, reference });
      return { ...event, deliveredAt: new Date().toISOString() };
    } catch {
      // The saga does not exist yet (or is gone): wait for it, within the hold.
      if (Date.now() + waitMs > deadline) return event;
      await sleep(waitMs);
    }
  }
}
