/**
 * Webhook receivers. The payment provider's (Stripe-style `Stripe-Signature`) is verified with the
 * `stripe` package over the raw body; partners' (Standard Webhooks) with the `standardwebhooks`
 * package, per-source secrets. Every configured secret is tried, so a rotation has no flag day.
 * A bad or expired signature is refused and nothing reaches a workflow. Mounted before the JSON
 * body parser and the JWT check: the signature is the authentication.
 */
import { isUtf8 } from 'node:buffer';
import express, { Router, type Request } from 'express';
import Stripe from 'stripe';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import { ServiceError, type Client } from '@temporalio/client';
import type { Logger } from '../../logger';
import { perWebhookSource } from '../middleware/rate-limit';
import { HttpProblem } from '../problem';
import { PAYMENT_PROCESSOR_SOURCE } from '../../contracts/order-protocol';
import { EventNotRecorded, deliverWebhookEvent, type IntakeResult } from '../webhook-intake';

export interface WebhookOptions {
  client: Client;
  taskQueue: string;
  paymentSecrets: string[];
  standardSecrets: Record<string, string[]>;
  toleranceSeconds: number;
  bodyLimit: string;
  logger: Logger;
  /** Requests per source per window (rate limit). */
  rateLimit?: { windowMs: number; limit: number };
}

/**
 * An event ID, bounded so that every workflow ID built from it fits Temporal's limit (1,000 bytes):
 * a longer one would be refused by Temporal on every redelivery, so it is refused here, for good.
 */
export const WebhookEventId = z.string().regex(/^[\x21-\x7e]{1,255}$/, '1 to 255 visible ASCII characters');
/** Our transaction's workflow ID, as the event names it: no longer than Temporal accepts. */
const Reference = z.string().min(1).max(1000);

/** The part of a payment event we use, parsed like any other foreign input. */
const PaymentEvent = z.object({
  id: WebhookEventId,
  type: z.string().max(200),
  data: z.object({
    object: z.object({
      id: z.string().max(255),
      metadata: z.object({ reference: Reference }),
      failure_message: z.string().max(1000).nullish(),
    }),
  }),
});

/** Standard Webhooks payloads from partners name our reference in `data.reference`. */
const PartnerEvent = z.object({ type: z.string().max(200), data: z.object({ reference: Reference }).loose() });

const stripe = new Stripe('sk_unused_for_verification_only');

/** Hands the event to Temporal; if that fails, a 503 makes the provider retry (never a 2xx for a lost event). */
async function recordOr503(logger: Logger, deliver: () => Promise<IntakeResult>): Promise<IntakeResult> {
  try {
    return await deliver();
  } catch (err) {
    if (!(err instanceof EventNotRecorded)) throw err;
    if (refusedByTemporal(err)) {
      // Temporal refuses this event as it is (an argument it will never accept): retrying cannot help.
      logger.warn({ err }, 'webhook event refused by Temporal as invalid');
      throw new HttpProblem(400, 'invalid-webhook-payload', 'Unusable webhook event', 'The event cannot be recorded as sent; retrying it will not help.');
    }
    logger.warn({ err }, 'webhook event not recorded; asking the sender to retry');
    throw new HttpProblem(503, 'event-not-recorded', 'Event not recorded', 'The event could not be confirmed as recorded in time. Retry later: if it was recorded after all, the redelivery is dropped as a duplicate.', {}, { 'Retry-After': '5' });
  }
}

/** gRPC INVALID_ARGUMENT anywhere in the cause chain: a permanent refusal, not an outage. */
function refusedByTemporal(err: Error): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ServiceError && (e.cause as { code?: number } | undefined)?.code === 3) return true;
  }
  return false;
}

/**
 * The `stripe` package checks only that a signed timestamp is not too old; one from the future
 * (a replay prepared in advance, or a wrong clock) must be refused too.
 */
function signedInTheFuture(signatureHeader: string, toleranceSeconds: number): boolean {
  const t = /(?:^|,)\s*t=(\d+)/.exec(signatureHeader)?.[1];
  return t !== undefined && Number(t) > Date.now() / 1000 + toleranceSeconds;
}

function invalidSignature(detail: string): HttpProblem {
  return new HttpProblem(400, 'invalid-webhook-signature', 'Invalid webhook signature', detail);
}

export function webhookRoutes(options: WebhookOptions): Router {
  const router = Router();
  // No inflation: a compressed body is a 415, and the signature is over the bytes as sent.
  const raw = express.raw({ type: '*/*', limit: options.bodyLimit, inflate: false });
  const limited = options.rateLimit ? [perWebhookSource(options.rateLimit.windowMs, options.rateLimit.limit)] : [];
  const rawBody = (req: Request) => {
    if (!Buffer.isBuffer(req.body)) return '';
    // Read as text, bytes that are not UTF-8 would change (U+FFFD) and fail the signature: say what is wrong instead.
    if (!isUtf8(req.body)) throw new HttpProblem(400, 'invalid-webhook-payload', 'Unusable webhook event', 'The body is not UTF-8: an event is UTF-8 JSON.');
    return req.body.toString('utf8');
  };

  if (options.paymentSecrets.length > 0) {
    router.post('/v1/webhooks/payments', ...limited, raw, async (req, res) => {
      const signature = req.get('stripe-signature');
      if (!signature) throw invalidSignature('Missing Stripe-Signature header.');
      const payload = rawBody(req);
      let verified: unknown;
      for (const secret of options.paymentSecrets) {
        try {
          verified = stripe.webhooks.constructEvent(payload, signature, secret, options.toleranceSeconds);
          break;
        } catch {
          // try the next secret (rotation)
        }
      }
      if (!verified || signedInTheFuture(signature, options.toleranceSeconds)) throw invalidSignature('The signature does not match any current secret, or its timestamp is outside the tolerance.');
      const event = PaymentEvent.safeParse(verified);
      if (!event.success) throw new HttpProblem(400, 'invalid-webhook-payload', 'Unusable webhook event', 'The event does not have the fields we route by.');
      const { id, type, data } = event.data;
      const result = await recordOr503(options.logger, () =>
        deliverWebhookEvent(options.client, options.taskQueue, data.object.metadata.reference, {
          source: PAYMENT_PROCESSOR_SOURCE,
          eventId: id,
          type,
          receivedAt: new Date().toISOString(),
          objectId: data.object.id,
          reason: data.object.failure_message ?? undefined,
        }),
      );
      options.logger.info({ eventId: id, type, result }, 'payment webhook recorded');
      res.status(200).json({ received: true, result });
    });
  }

  router.post('/v1/webhooks/:source', ...limited, raw, async (req, res) => {
    const source = String(req.params.source);
    const secrets = options.standardSecrets[source];
    if (!secrets?.length) throw new HttpProblem(404, 'unknown-webhook-source', 'Unknown webhook source', `No webhook source named ${source} is configured.`);
    const payload = rawBody(req);
    const headers = { 'webhook-id': req.get('webhook-id') ?? '', 'webhook-timestamp': req.get('webhook-timestamp') ?? '', 'webhook-signature': req.get('webhook-signature') ?? '' };
    let verified: unknown;
    for (const secret of secrets) {
      try {
        verified = new Webhook(secret).verify(payload, headers);
        break;
      } catch (err) {
        if (!(err instanceof WebhookVerificationError)) throw err;
      }
    }
    if (!verified) throw invalidSignature('The Standard Webhooks signature does not match any current secret, or its timestamp is outside the tolerance.');
    const event = PartnerEvent.safeParse(verified);
    if (!event.success || !WebhookEventId.safeParse(headers['webhook-id']).success) {
      throw new HttpProblem(400, 'invalid-webhook-payload', 'Unusable webhook event', 'Expected a webhook-id of 1 to 255 visible ASCII characters and {"type": …, "data": {"reference": …}}.');
    }
    const result = await recordOr503(options.logger, () =>
      deliverWebhookEvent(options.client, options.taskQueue, event.data.data.reference, { source, eventId: headers['webhook-id'], type: event.data.type, receivedAt: new Date().toISOString() }),
    );
    options.logger.info({ source, eventId: headers['webhook-id'], type: event.data.type, result }, 'partner webhook recorded');
    res.status(200).json({ received: true, result });
  });

  return router;
}
