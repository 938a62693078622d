/**
 * webhookEventRecord: the durable record of a webhook event whose saga had already finished (or
 * never existed). Its workflow ID is the event's ID, so a redelivery is recognised, and support
 * finds it in the Web UI next to the saga. It does nothing else.
 */
import type { WebhookEvent } from '../contracts/transaction';

export async function webhookEventRecord(event: WebhookEvent & { target: string }): Promise<WebhookEvent & { target: string }> {
  return event;
}
