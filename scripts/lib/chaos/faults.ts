/**
 * The fault schedule of a chaos run: for each kind, `count` moments drawn from the seed over the
 * run's duration, and what each fault does when its moment comes. Faults of one kind run one after
 * another (a crashed process is back before the next crash of its kind); kinds overlap freely.
 */
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { orderWorkflowId } from '../../../src/contracts/order';
import type { Answer } from './checker';
import type { Cluster } from './cluster';
import type { Journal } from './customers';
import type { Random } from './random';
import { NO_SUPPORT_TARGET, supportChaos, type SupportDesk } from './support';

export const FAULT_KINDS = ['worker-crash', 'engine-crash', 'api-crash', 'lost-response', 'downstream-outage', 'webhook-chaos', 'caller-chaos', 'support-chaos'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultCounts {
  byKind: Record<FaultKind, number>;
  /** Finer detail: `downstream-outage/429`, `webhook-chaos/forged-signature`… */
  bySubKind: Record<string, number>;
}

const SIMS = ['legacy', 'payments', 'fulfilment'] as const;
const EFFECT_OPS = { legacy: ['create', 'complete', 'cancel', 'refund'], payments: ['charge', 'refund', 'cancel'], fulfilment: ['grant', 'revoke'] } as const;
const stripe = new Stripe('sk_unused_for_signing_only');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultContext {
  cluster: Cluster;
  journal: Journal;
  random: Random;
  counts: FaultCounts;
  desk: SupportDesk;
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) }); // /_sim/webhooks/send answers once the first attempt (after its delay) is made
}

/** Adds a fault rule to a simulator (`times` bounds it, so none outlives its burst for long). */
async function simFault(ctx: FaultContext, rule: Record<string, unknown>, sim = ctx.random.pick(SIMS)): Promise<void> {
  const op = ctx.random.chance(0.7) ? ctx.random.pick(EFFECT_OPS[sim]) : undefined;
  const res = await post(`${ctx.cluster.simUrls[sim]}/_sim/faults`, { ...(op ? { op } : {}), ...rule });
  if (res.status !== 201) throw new Error(`fault refused by ${sim}: ${res.status}`);
}

/** A payment event delivered to the API by hand: signed with the real secret, or forged. */
async function deliver(ctx: FaultContext, event: Record<string, unknown>, how: 'genuine' | 'wrong-secret' | 'tampered' | 'expired'): Promise<Answer> {
  const payload = JSON.stringify(event);
  const secret = how === 'wrong-secret' ? `whsec_${randomUUID()}` : ctx.cluster.webhookSecret;
  const timestamp = how === 'expired' ? Math.floor(Date.now() / 1000) - 3_600 : undefined;
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  const body = how === 'tampered' ? payload.replace('"payment.failed"', '"payment.succeeded"').replace('"amount":', '"amount":1') : payload;
  try {
    const res = await fetch(`${ctx.cluster.apiUrl}/v1/webhooks/payments`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined };
  } catch {
    return { status: 'network-error' };
  }
}

function paymentEvent(type: string, reference: string, chargeId = `ch_${randomUUID().slice(0, 8)}`) {
  return { id: `evt_chaos_${randomUUID().replace(/-/g, '').slice(0, 20)}`, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object: { id: chargeId, object: 'charge', amount: 100, status: 'succeeded', metadata: { reference } } } };
}

/** Runs one fault of `kind`; returns its sub-kind. */
export async function inject(kind: FaultKind, ctx: FaultContext): Promise<string> {
  const { cluster, journal, random } = ctx;
  switch (kind) {
    case 'worker-crash':
      await cluster.killWorker(random.int(0, cluster.workerCount - 1));
      return 'sigkill';
    case 'engine-crash':
      await cluster.killTemporal();
      return 'sigkill';
    case 'api-crash':
      await cluster.killApi();
      return 'sigkill';
    case 'lost-response': {
      if (random.chance(0.5)) {
        journal.pending.dropAnswer += 1;
        return 'client-drops-answer';
      }
      await simFault(ctx, { dropResponseRate: 1, times: 1 });
      return 'downstream-drops-answer';
    }
    case 'downstream-outage': {
      const sub = random.weighted({ '5xx-burst': 3, timeout: 2, latency: 2, '429': 2 });
      if (sub === '5xx-burst') await simFault(ctx, { errorRate: 1, status: random.pick([500, 502, 503]), times: random.int(1, 4) });
      if (sub === 'timeout') await simFault(ctx, { timeoutRate: 1, times: 1 });
      if (sub === 'latency') await simFault(ctx, { latencyMs: random.int(200, 2_500), times: random.int(1, 5) });
      if (sub === '429') await simFault(ctx, { errorRate: 1, status: 429, retryAfterSeconds: 1, times: random.int(1, 3) });
      return sub;
    }
    case 'webhook-chaos':
      return webhookChaos(ctx);
    case 'caller-chaos':
      if (random.chance(0.5)) {
        journal.pending.duplicate += 1;
        return 'same-key-retry';
      }
      journal.pending.keyReuse += 1;
      return 'same-key-other-body';
    case 'support-chaos':
      return supportChaos(ctx);
  }
}

async function webhookChaos(ctx: FaultContext): Promise<string> {
  const { cluster, journal, random } = ctx;
  const payments = cluster.simUrls.payments;
  const sub = random.weighted({ duplicate: 3, 'out-of-order': 2, late: 2, 'before-the-saga': 1, forged: 3 });
  const target = journal.asyncOrders.length ? random.pick(journal.asyncOrders.slice(-50)) : undefined;
  const charge = target ? ((await (await fetch(`${payments}/_sim/state?reference=${encodeURIComponent(target)}`)).json()) as { charges: { id: string; status: string }[] }).charges[0] : undefined;

  if (sub === 'before-the-saga' && journal.nextOrderKey.size) {
    // A genuine event for an order a customer has not placed yet (its saga does not exist).
    const [customer, key] = random.pick([...journal.nextOrderKey.entries()]);
    const answer = await deliver(ctx, paymentEvent('payment.succeeded', orderWorkflowId(customer, key)), 'genuine');
    journal.otherCalls.push({ what: 'webhook before the saga', workflowId: orderWorkflowId(customer, key), answers: [answer] });
    return 'before-the-saga';
  }
  if (sub === 'forged' && (target || journal.nextOrderKey.size)) {
    // Aimed at an asynchronous payment: a forged payment.succeeded would grant access without payment.
    const how = random.pick(['wrong-secret', 'tampered', 'expired'] as const);
    const reference = target ?? orderWorkflowId(random.pick([...journal.nextOrderKey.keys()]), 'o-1');
    const event = paymentEvent(how === 'tampered' ? 'payment.failed' : 'payment.succeeded', reference, charge?.id);
    const answer = await deliver(ctx, event, how);
    journal.forged.push({ eventId: event.id, workflowId: reference, answer });
    return `forged-${how}`;
  }
  if (!target || !charge) return 'charge-not-settled';
  if (sub === 'duplicate') {
    const { deliveries } = (await (await fetch(`${payments}/_sim/webhooks/deliveries?reference=${encodeURIComponent(target)}`)).json()) as { deliveries: { eventId: string; type: string }[] };
    if (!deliveries.length) return 'nothing-to-duplicate';
    const original = random.pick(deliveries);
    await post(`${payments}/_sim/webhooks/send`, { chargeId: charge.id, type: original.type, eventId: original.eventId });
    return 'duplicate';
  }
  // The provider's events tell the truth about the charge; only their order and timing are chaotic:
  // a settled charge's outcome again later (a new event ID), or, for a succeeded one, a stale failure.
  if (charge.status !== 'succeeded' && charge.status !== 'failed') return 'charge-not-settled';
  const outcome = charge.status === 'succeeded' ? 'payment.succeeded' : 'payment.failed';
  if (sub === 'out-of-order') {
    await post(`${payments}/_sim/webhooks/send`, { chargeId: charge.id, type: charge.status === 'succeeded' ? 'payment.failed' : outcome });
    return 'out-of-order';
  }
  await post(`${payments}/_sim/webhooks/send`, { chargeId: charge.id, type: outcome, delayMs: random.int(1_000, 20_000) });
  return 'late';
}

const NOT_INJECTED = ['nothing-to-duplicate', 'charge-not-settled', NO_SUPPORT_TARGET];

/** Faults a customer's next request carries out; they count once done (see Journal.done). */
export const CLIENT_SIDE = ['client-drops-answer', 'same-key-retry', 'same-key-other-body'];

/** The schedule: for each kind, `count` moments in [0, durationMs), sorted. */
export function schedule(random: Random, durationMs: number, count: number, kinds: readonly string[] = FAULT_KINDS): Record<FaultKind, number[]> {
  return Object.fromEntries(
    FAULT_KINDS.map((kind) => {
      const moments = Array.from({ length: count }, () => Math.floor(random.next() * durationMs)).sort((a, b) => a - b);
      return [kind, kinds.includes(kind) ? moments : []]; // drawn for every kind, so --kinds does not change the others' moments
    }),
  ) as Record<FaultKind, number[]>;
}

/**
 * A crashed process serves at least this long before the next crash of its kind: a system that is
 * down all the time proves nothing (and a run whose schedule is too dense simply takes longer).
 */
const CRASH_MIN_UP_MS = 4_000;
const CRASHES: readonly FaultKind[] = ['worker-crash', 'engine-crash', 'api-crash'];

/** Runs every kind's faults at their moments (late ones as soon as the previous of their kind is done). */
export async function runSchedule(ctx: FaultContext, plan: Record<FaultKind, number[]>, startedAt: number, onFault: () => void): Promise<void> {
  await Promise.all(
    FAULT_KINDS.map(async (kind) => {
      const random = ctx.random.fork();
      let previousDone = 0;
      for (const at of plan[kind]) {
        const notBefore = Math.max(startedAt + at, CRASHES.includes(kind) ? previousDone + CRASH_MIN_UP_MS : 0);
        const wait = notBefore - Date.now();
        if (wait > 0) await sleep(wait);
        try {
          let sub = await inject(kind, { ...ctx, random });
          // A webhook or support fault that found nothing to act on tries again on another transaction.
          for (let i = 0; i < 5 && NOT_INJECTED.includes(sub); i++) sub = await inject(kind, { ...ctx, random });
          if (NOT_INJECTED.includes(sub)) throw new Error(sub);
          if (CLIENT_SIDE.includes(sub)) continue; // counted when a customer request takes it (Journal.done)
          ctx.counts.byKind[kind] += 1;
          ctx.counts.bySubKind[`${kind}/${sub}`] = (ctx.counts.bySubKind[`${kind}/${sub}`] ?? 0) + 1;
          previousDone = Date.now();
          onFault();
        } catch (err) {
          const why = `${kind}/not injected: ${(err as Error).message.slice(0, 80)}`;
          ctx.counts.bySubKind[why] = (ctx.counts.bySubKind[why] ?? 0) + 1;
        }
      }
    }),
  );
}
