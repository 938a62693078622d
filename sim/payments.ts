/**
 * Payment processor simulator, Stripe-shaped: charges and refunds, test tokens (`tok_visa`
 * succeeds, `tok_chargeDeclined` is declined with 402 card_declined), charges findable by our
 * reference in metadata.
 */
import { z } from 'zod';
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
  status: 'succeeded' | 'pending' | 'failed';
  refunded: boolean;
  metadata: { reference: string };
  created: number;
}

const DECLINES: Record<string, { code: string; message: string }> = {
  tok_chargeDeclined: { code: 'card_declined', message: 'Your card was declined.' },
  tok_chargeDeclinedInsufficientFunds: { code: 'card_declined', message: 'Your card has insufficient funds.' },
};

export function createPaymentsSim(options: SimulatorOptions = {}) {
  const sim = createSimulator('payments', options);
  const charges = new Map<string, Charge>();

  sim.command('/v1/charges', 'charge', (req) => {
    const body = CreateCharge.safeParse(req.body);
    if (!body.success) throw new SimError(400, { error: { type: 'invalid_request_error', code: 'parameter_invalid', message: body.error.issues[0]?.message } });
    const decline = DECLINES[body.data.source];
    if (decline) throw new SimError(402, { error: { type: 'card_error', ...decline } });
    if (!body.data.source.startsWith('tok_')) throw new SimError(400, { error: { type: 'invalid_request_error', code: 'token_invalid', message: 'No such token.' } });
    const charge: Charge = { id: newId('ch_'), object: 'charge', amount: body.data.amount, currency: body.data.currency, status: 'succeeded', refunded: false, metadata: body.data.metadata, created: Date.now() };
    charges.set(charge.id, charge);
    return { status: 201, body: charge, effect: { ref: charge.id } };
  });

  sim.command('/v1/refunds', 'refund', (req) => {
    const chargeId = String((req.body as { charge?: unknown })?.charge ?? '');
    const charge = charges.get(chargeId);
    if (!charge) throw new SimError(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such charge: ${chargeId}` } });
    if (charge.refunded) throw new SimError(400, { error: { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'Charge has already been refunded.' } });
    charge.refunded = true;
    const refund = { id: newId('re_'), object: 'refund', charge: charge.id, amount: charge.amount, status: 'succeeded' };
    return { status: 201, body: refund, effect: { ref: refund.id } };
  });

  sim.query('/v1/charges', 'list', (req) => {
    const reference = req.query.reference as string | undefined;
    const data = [...charges.values()].filter((c) => !reference || c.metadata.reference === reference);
    return { status: 200, body: { object: 'list', data } };
  });
  return sim;
}
