/**
 * The legacy ecommerce orders API, translated into our types. Its quirks (amounts in cents as
 * strings, three-letter status codes, snake_case) are understood here and nowhere else.
 */
import { z } from 'zod';
import { createHttpClient, type CallContext, type CommandCall, type HttpClient, type HttpClientOptions, type Replayable } from './http';

const LegacyStatus = z.enum(['OPN', 'CMP', 'CNL', 'RFD']);
const STATUS = { OPN: 'open', CMP: 'completed', CNL: 'cancelled', RFD: 'refunded' } as const;

const LegacyOrderBody = z.object({
  order_number: z.string().min(1),
  customer_id: z.string(),
  reference: z.string(),
  status: LegacyStatus,
  currency: z.string().length(3),
  total_cents: z.string().regex(/^\d+$/, 'cents as a digit string'),
  created: z.string(),
});
const LegacyOrderPage = z.object({
  count: z.number().int(),
  next_page: z.number().int().nullable(),
  results: z.array(LegacyOrderBody),
});

export interface LegacyOrder {
  orderNumber: string;
  customerId: string;
  reference: string;
  status: (typeof STATUS)[keyof typeof STATUS];
  currency: string;
  totalMinor: number;
  createdAt: string;
}

export interface LegacyOrderPage {
  total: number;
  nextPage: number | null;
  orders: LegacyOrder[];
}

function toOrder(o: z.infer<typeof LegacyOrderBody>): LegacyOrder {
  return {
    orderNumber: o.order_number,
    customerId: o.customer_id,
    reference: o.reference,
    status: STATUS[o.status],
    currency: o.currency,
    totalMinor: Number(o.total_cents),
    createdAt: o.created,
  };
}

const rejection = (_status: number, body: unknown) => {
  const b = body as { error?: string; detail?: string } | undefined;
  return { code: b?.error ?? 'LEGACY_ERROR', reason: b?.detail ?? 'legacy ecommerce refused the request' };
};

export interface CreateLegacyOrder {
  customerId: string;
  reference: string;
  currency: string;
  lines: { sku: string; quantity: number; unitPriceMinor: number }[];
}

export type LegacyEcommerceClient = ReturnType<typeof createLegacyEcommerceClient>;

export function createLegacyEcommerceClient(options: Omit<HttpClientOptions, 'service'>, http: HttpClient = createHttpClient({ service: 'legacy-ecommerce', ...options })) {
  return {
    http,
    async createOrder(input: CreateLegacyOrder, ctx: CommandCall): Promise<Replayable<LegacyOrder>> {
      const { body, replayed } = await http.command({
        method: 'POST',
        path: '/api/v2/orders',
        body: {
          customer_id: input.customerId,
          reference: input.reference,
          currency: input.currency,
          lines: input.lines.map((l) => ({ sku: l.sku, qty: l.quantity, unit_price_cents: String(l.unitPriceMinor) })),
        },
        schema: LegacyOrderBody,
        rejection,
        ...ctx,
      });
      return { ...toOrder(body), replayed };
    },
    async completeOrder(orderNumber: string, ctx: CommandCall): Promise<Replayable<LegacyOrder>> {
      const { body, replayed } = await http.command({ method: 'POST', path: `/api/v2/orders/${encodeURIComponent(orderNumber)}/complete`, body: {}, schema: LegacyOrderBody, rejection, ...ctx });
      return { ...toOrder(body), replayed };
    },
    async cancelOrder(orderNumber: string, ctx: CommandCall): Promise<LegacyOrder> {
      const body = await http.request({ method: 'POST', path: `/api/v2/orders/${encodeURIComponent(orderNumber)}/cancel`, body: {}, schema: LegacyOrderBody, rejection, ...ctx });
      return toOrder(body);
    },
    async markRefunded(orderNumber: string, ctx: CommandCall): Promise<LegacyOrder> {
      const body = await http.request({ method: 'POST', path: `/api/v2/orders/${encodeURIComponent(orderNumber)}/refund`, body: {}, schema: LegacyOrderBody, rejection, ...ctx });
      return toOrder(body);
    },
    /** Reconciliation: finds the order we created under our own reference, if the legacy service has it. */
    async findByReference(reference: string, ctx: CallContext = {}): Promise<LegacyOrder | undefined> {
      const page = await http.request({ method: 'GET', path: '/api/v2/orders', query: { reference }, schema: LegacyOrderPage, rejection, ...ctx });
      const found = page.results.find((o) => o.reference === reference);
      return found && toOrder(found);
    },
    async listOrders(customerId: string, page: { page?: number; pageSize?: number }, ctx: CallContext = {}): Promise<LegacyOrderPage> {
      const body = await http.request({
        method: 'GET',
        path: '/api/v2/orders',
        query: { customer_id: customerId, page: page.page, page_size: page.pageSize },
        schema: LegacyOrderPage,
        rejection,
        ...ctx,
      });
      return { total: body.count, nextPage: body.next_page, orders: body.results.map(toOrder) };
    },
  };
}
