/**
 * Webhook delivery as a payment provider does it: Stripe-format events signed with the `stripe`
 * library's own helper (`Stripe-Signature: t=…,v1=…`), POSTed to the endpoint registered for the
 * object's reference, retried with exponential backoff on any non-2xx or timeout, and logged so
 * tests can see every attempt. Test infrastructure, not product code.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Stripe from 'stripe';

export interface Endpoint {
  url: string;
  secret: string;
  /** Events whose object reference starts with this go here; the longest match wins. */
  referencePrefix: string;
}

export interface Delivery {
  eventId: string;
  type: string;
  reference: string;
  attempt: number;
  status: number | 'timeout' | 'error';
  at: string;
  /** How long the receiver took to answer this attempt. */
  durationMs: number;
}

export interface WebhookOptions {
  defaultEndpoint?: Omit<Endpoint, 'referencePrefix'>;
  retryBaseMs: number;
  maxAttempts: number;
}

const stripe = new Stripe('sk_test_simulator');

export function createWebhookSender(options: WebhookOptions) {
  const endpoints: Endpoint[] = options.defaultEndpoint ? [{ ...options.defaultEndpoint, referencePrefix: '' }] : [];
  const deliveries: Delivery[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const endpointFor = (reference: string) =>
    endpoints.filter((e) => reference.startsWith(e.referencePrefix)).sort((a, b) => b.referencePrefix.length - a.referencePrefix.length)[0];

  /** One delivery attempt; resolves with the status (never throws). */
  async function attempt(endpoint: Endpoint, payload: string, secret = endpoint.secret, timestamp?: number): Promise<Delivery['status']> {
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
    try {
      const res = await fetch(endpoint.url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload, signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      return res.status;
    } catch (err) {
      return (err as Error).name === 'TimeoutError' ? 'timeout' : 'error';
    }
  }

  /**
   * Sends an event (a fresh ID unless given) about `object`, after `delayMs`, retrying until a 2xx.
   * Resolves when the first attempt has been made (so "early" deliveries can be awaited).
   */
  function send(type: string, object: { id: string; metadata: { reference: string } } & Record<string, unknown>, opts: { delayMs?: number; eventId?: string } = {}): Promise<void> {
    const endpoint = endpointFor(object.metadata.reference);
    if (!endpoint) return Promise.resolve();
    const event = { id: opts.eventId ?? `evt_${randomUUID().replace(/-/g, '').slice(0, 24)}`, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } };
    const payload = JSON.stringify(event);
    return new Promise((firstAttemptMade) => {
      const tryOnce = async (n: number) => {
        const started = performance.now();
        const status = await attempt(endpoint, payload);
        const durationMs = Math.round((performance.now() - started) * 10) / 10;
        deliveries.push({ eventId: event.id, type, reference: object.metadata.reference, attempt: n, status, at: new Date().toISOString(), durationMs });
        if (n === 1) firstAttemptMade();
        const ok = typeof status === 'number' && status >= 200 && status < 300;
        if (!ok && n < options.maxAttempts) schedule(() => tryOnce(n + 1), options.retryBaseMs * 2 ** (n - 1));
      };
      schedule(() => tryOnce(1), opts.delayMs ?? 0);
    });
  }

  function schedule(fn: () => void, ms: number) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  return {
    send,
    deliveries,
    register: (endpoint: Endpoint) => endpoints.push(endpoint),
    stop: () => timers.forEach(clearTimeout),
  };
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;
