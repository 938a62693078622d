/**
 * Payment processor simulator, Stripe-shaped: charges and refunds, test tokens (`tok_visa`
 * succeeds, `tok_chargeDeclined` is declined with 402 card_declined), charges findable by our
 * reference in metadata. Asynchronous tokens answer `pending` and finish by webhook:
 * `tok_async` (→ payment.succeeded), `tok_asyncDeclined` (→ payment.failed), `tok_asyncEarly`
 * (the webhook is sent before the charge call is answered), `tok_asyncSilent` (no webhook ever).
 */
import { z } from 'zod';
import { createWebhookSender, type WebhookOptions } from './lib/webhooks';
import { SimError, createSimulator, newId } from './lib/simulator';
import type { SimulatorOptions } from './lib/simulator';

const CreateCharge = z.object({
  amount: z.number().int().min(1),
  currency: z.string().length(3),
  source: z.string(),
  metadata: z.object({ reference: z.string().min(1) }),
});

interface Charge {
  id: string;
  object: 'charge';
  amount: number;
  currency: string;
  status: 'succeeded' | 'pending' | 'failed' | 'canceled';
  refunded: boolean;
  metadata: { reference: string };
  created: number;
}

const DECLINES: Record<string, { code: string; message: string }> = {
  tok_chargeDeclined: { code: 'card_declined', message: 'Your card was declined.' },
  tok_chargeDeclinedInsufficientFunds: { code: 'card_declined', message: 'Your card has insufficient funds.' },
};

const ASYNC = { tok_async: 'payment.succeeded', tok_asyncDeclined: 'payment.failed', tok_asyncEarly: 'payment.succeeded', tok_asyncSilent: undefined } as const;

export function createPaymentsSim(options: SimulatorOptions & { webhooks?: WebhookOptions } = {}) {
  const sim = createSimulator('payments', options);
  const charges = new Map<string, Charge>();
  const refunds: { id: string; charge: string; amount: number; created: number }[] = [];
  const webhooks = createWebhookSender(options.webhooks ?? { retryBaseMs: 500, maxAttempts: 8 });
  const webhookDelayMs = Number(process.env.SIM_WEBHOOK_DELAY_MS ?? 300);

  /** Settles a pending charge and tells the merchant, as the processor would. */
  const settle = (charge: Charge, type: 'payment.succeeded' | 'payment.failed', delayMs: number) => {
    if (charge.status !== 'pending') return Promise.resolve();
    charge.status = type === 'payment.succeeded' ? 'succeeded' : 'failed';
    return webhooks.send(type, { ...charge, ...(type === 'payment.failed' ? { failure_message: 'Your card was declined.' } : {}) }, { delayMs });
  };

  sim.command('/v1/charges', 'charge', (req) => {
    const body = CreateCharge.safeParse(req.body);
    if (!body.success) throw new SimError(400, { error: { type: 'invalid_request_error', code: 'parameter_invalid', message: body.error.issues[0]?.message } });
    const decline = DECLINES[body.data.source];
    if (decline) throw new SimError(402, { error: { type: 'card_error', ...decline } });
    if (!body.data.source.startsWith('tok_')) throw new SimError(400, { error: { type: 'invalid_request_error', code: 'token_invalid', message: 'No such token.' } });
    const pending = body.data.source in ASYNC;
    const charge: Charge = { id: newId('ch_'), object: 'charge', amount: body.data.amount, currency: body.data.currency, status: pending ? 'pending' : 'succeeded', refunded: false, metadata: body.data.metadata, created: Date.now() };
    charges.set(charge.id, charge);
    const outcome = ASYNC[body.data.source as keyof typeof ASYNC];
    const answer = { status: 201, body: { ...charge }, effect: { ref: charge.id } };
    if (outcome && body.data.source !== 'tok_asyncEarly') {
      // Settled a little later; the timer keeps the answer (a pending charge) what it was.
      setTimeout(() => void settle(charge, outcome, 0), webhookDelayMs);
    }
    if (body.data.source === 'tok_asyncEarly') return settle(charge, 'payment.succeeded', 0).then(() => answer);
    return answer;
  });

  sim.command('/v1/charges/:id/cancel', 'cancel', (req) => {
    const charge = charges.get(String(req.params.id));
    if (!charge) throw new SimError(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such charge.' } });
    if (charge.status !== 'pending') throw new SimError(400, { error: { type: 'invalid_request_error', code: 'charge_not_pending', message: `Charge is ${charge.status}.` } });
    charge.status = 'canceled';
    return { status: 200, body: charge, effect: { ref: charge.id } };
  });

  sim.command('/v1/refunds', 'refund', (req) => {
    const chargeId = String((req.body as { charge?: unknown })?.charge ?? '');
    const charge = charges.get(chargeId);
    if (!charge) throw new SimError(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such charge: ${chargeId}` } });
    if (charge.refunded) throw new SimError(400, { error: { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'Charge has already been refunded.' } });
    charge.refunded = true;
    const refund = { id: newId('re_'), object: 'refund', charge: charge.id, amount: charge.amount, status: 'succeeded' };
    refunds.push({ id: refund.id, charge: charge.id, amount: refund.amount, created: Date.now() });
    return { status: 201, body: refund, effect: { ref: refund.id } };
  });

  // Test contract for webhooks: register an endpoint for a reference prefix, send any event about a
  // charge (duplicates with `eventId`, late or out of order), and read every delivery attempt.
  sim.app.post('/_sim/webhooks/endpoints', (req, res) => {
    const body = z.strictObject({ url: z.url(), secret: z.string().min(1), referencePrefix: z.string() }).safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: 'INVALID_ENDPOINT' });
    webhooks.register(body.data);
    res.status(201).json(body.data);
  });
  sim.app.post('/_sim/webhooks/send', async (req, res) => {
    const body = z.strictObject({ chargeId: z.string(), type: z.string(), eventId: z.string().optional(), delayMs: z.number().int().min(0).optional() }).safeParse(req.body);
    const charge = body.success ? charges.get(body.data.chargeId) : undefined;
    if (!body.success || !charge) return void res.status(400).json({ error: 'INVALID_SEND' });
    // An outcome for a charge still pending settles it first, as the processor's own event would follow
    // its settling; any other event (a duplicate, one out of order) is sent about the charge as it is.
    if (charge.status === 'pending' && (body.data.type === 'payment.succeeded' || body.data.type === 'payment.failed')) {
      charge.status = body.data.type === 'payment.succeeded' ? 'succeeded' : 'failed';
    }
    await webhooks.send(body.data.type, { ...charge }, { eventId: body.data.eventId, delayMs: body.data.delayMs });
    res.status(202).json({ sent: true });
  });
  // A pending charge settles at the processor, its event sent separately (by the test, signed as the
  // processor signs it) or never: what the processor then holds is what the coordinator is told when it asks.
  sim.app.post('/_sim/charges/settle', (req, res) => {
    const body = z.strictObject({ chargeId: z.string(), status: z.enum(['succeeded', 'failed']) }).safeParse(req.body);
    const charge = body.success ? charges.get(body.data.chargeId) : undefined;
    if (!body.success || !charge) return void res.status(400).json({ error: 'INVALID_SETTLE' });
    if (charge.status !== 'pending') return void res.status(409).json({ error: 'NOT_PENDING', status: charge.status });
    charge.status = body.data.status;
    res.json({ ...charge });
  });
  sim.app.get('/_sim/webhooks/deliveries', (req, res) => {
    const reference = String(req.query.reference ?? '');
    res.json({ deliveries: webhooks.deliveries.filter((d) => d.reference.startsWith(reference)) });
  });

  // Test contract: every charge (status, refunded, reference) and every refund, for invariant checks;
  // `?reference=` narrows it to one transaction's.
  sim.app.get('/_sim/state', (req, res) => {
    const reference = req.query.reference as string | undefined;
    const selected = [...charges.values()].filter((c) => !reference || c.metadata.reference === reference);
    res.json({ charges: selected, refunds: reference ? refunds.filter((r) => selected.some((c) => c.id === r.charge)) : refunds });
  });

  sim.query('/v1/charges', 'list', (req) => {
    const reference = req.query.reference as string | undefined;
    const data = [...charges.values()].filter((c) => !reference || c.metadata.reference === reference);
    return { status: 200, body: { object: 'list', data } };
  });
  return sim;
}
