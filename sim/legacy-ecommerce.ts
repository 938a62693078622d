/**
 * Legacy ecommerce orders API simulator. Speaks like a legacy service: snake_case, amounts in cents
 * as strings, three-letter status codes (OPN, CMP, CNL, RFD), "EC-" order numbers.
 */
import { z } from 'zod';
import { SimError, createSimulator, type Answer } from './lib/simulator';
import type { SimulatorOptions } from './lib/simulator';

const CreateOrder = z.object({
  customer_id: z.string().min(1),
  reference: z.string().min(1),
  currency: z.string().length(3),
  lines: z.array(z.object({ sku: z.string(), qty: z.number().int().min(1), unit_price_cents: z.string().regex(/^\d+$/) })).min(1),
});

interface LegacyOrder {
  order_number: string;
  customer_id: string;
  reference: string;
  status: 'OPN' | 'CMP' | 'CNL' | 'RFD';
  currency: string;
  total_cents: string;
  created: string;
}

export function createLegacyEcommerceSim(options: SimulatorOptions = {}) {
  const sim = createSimulator('legacy-ecommerce', options);
  const orders = new Map<string, LegacyOrder>();
  let next = 1000;

  const find = (num: string) => {
    const order = orders.get(num);
    if (!order) throw new SimError(404, { error: 'ORDER_NOT_FOUND', detail: `no order ${num}` });
    return order;
  };
  const transition = (num: string, from: LegacyOrder['status'][], to: LegacyOrder['status']): Answer => {
    const order = find(num);
    if (!from.includes(order.status)) throw new SimError(422, { error: 'INVALID_TRANSITION', detail: `order ${num} is ${order.status}` });
    order.status = to;
    return { status: 200, body: order, effect: { ref: num } };
  };

  sim.command('/api/v2/orders', 'create', (req) => {
    const body = CreateOrder.safeParse(req.body);
    if (!body.success) throw new SimError(400, { error: 'VALIDATION', detail: body.error.issues.map((i) => i.path.join('.')).join(',') });
    const total = body.data.lines.reduce((sum, l) => sum + Number(l.unit_price_cents) * l.qty, 0);
    next += 1;
    const order: LegacyOrder = {
      order_number: `EC-${next}`,
      customer_id: body.data.customer_id,
      reference: body.data.reference,
      status: 'OPN',
      currency: body.data.currency,
      total_cents: String(total),
      created: new Date().toISOString(),
    };
    orders.set(order.order_number, order);
    return { status: 201, body: order, effect: { ref: order.order_number } };
  });
  sim.command('/api/v2/orders/:num/complete', 'complete', (req) => transition(String(req.params.num), ['OPN'], 'CMP'));
  sim.command('/api/v2/orders/:num/refund', 'refund', (req) => transition(String(req.params.num), ['CMP'], 'RFD'));
  // Like many legacy services, cancel can be switched to ignore Idempotency-Key (POST /_sim/mode
  // {"dedupe":false}): every call then re-runs the cancellation (and sends another notice), even
  // for an order already cancelled. Callers must reconcile (look the order up) before re-issuing.
  sim.command('/api/v2/orders/:num/cancel', 'cancel', (req) => transition(String(req.params.num), sim.mode.dedupe ? ['OPN'] : ['OPN', 'CNL'], 'CNL'), { dedupe: () => sim.mode.dedupe });

  // Test contract: every order with its current status and reference, for invariant checks.
  sim.app.get('/_sim/state', (_req, res) => {
    res.json({ orders: [...orders.values()] });
  });

  sim.query('/api/v2/orders', 'list', (req) => {
    const { customer_id, reference } = req.query as Record<string, string | undefined>;
    const page = Math.max(1, Number(req.query.page ?? 1) || 1);
    const size = Math.min(100, Math.max(1, Number(req.query.page_size ?? 20) || 20));
    const all = [...orders.values()]
      .filter((o) => (!customer_id || o.customer_id === customer_id) && (!reference || o.reference === reference))
      .sort((a, b) => (a.created < b.created ? 1 : -1));
    const results = all.slice((page - 1) * size, page * size);
    return { status: 200, body: { count: all.length, next_page: page * size < all.length ? page + 1 : null, results } };
  });
  return sim;
}
