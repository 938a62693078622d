/** The payment processor (Stripe-shaped API): charges and refunds, looked up by our reference. */
import { z } from 'zod';
import { createHttpClient, type CallContext, type CommandCall, type HttpClient, type HttpClientOptions, type Replayable } from './http';

const ChargeBody = z.object({
  id: z.string().startsWith('ch_'),
  amount: z.number().int().nonnegative(),
  currency: z.string(),
  status: z.enum(['succeeded', 'pending', 'failed', 'canceled']),
  refunded: z.boolean(),
  metadata: z.object({ reference: z.string() }),
});
const ChargeList = z.object({ data: z.array(ChargeBody) });
const RefundBody = z.object({ id: z.string().startsWith('re_'), charge: z.string(), amount: z.number().int(), status: z.enum(['succeeded', 'pending', 'failed']) });

export type Charge = z.infer<typeof ChargeBody>;
export type Refund = z.infer<typeof RefundBody>;

const rejection = (_status: number, body: unknown) => {
  const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return { code: e?.code ?? 'payment_error', reason: e?.message ?? 'the payment processor refused the request' };
};

export type PaymentsClient = ReturnType<typeof createPaymentsClient>;

export function createPaymentsClient(options: Omit<HttpClientOptions, 'service'>, http: HttpClient = createHttpClient({ service: 'payments', ...options })) {
  return {
    http,
    async charge(input: { amountMinor: number; currency: string; token: string; reference: string }, ctx: CommandCall): Promise<Replayable<Charge>> {
      const { body, replayed } = await http.command({
        method: 'POST',
        path: '/v1/charges',
        body: { amount: input.amountMinor, currency: input.currency.toLowerCase(), source: input.token, metadata: { reference: input.reference } },
        schema: ChargeBody,
        rejection,
        ...ctx,
      });
      return { ...body, replayed };
    },
    cancelCharge(chargeId: string, ctx: CommandCall): Promise<Charge> {
      return http.request({ method: 'POST', path: `/v1/charges/${encodeURIComponent(chargeId)}/cancel`, body: {}, schema: ChargeBody, rejection, ...ctx });
    },
    refund(chargeId: string, ctx: CommandCall): Promise<Refund> {
      return http.request({ method: 'POST', path: '/v1/refunds', body: { charge: chargeId }, schema: RefundBody, rejection, ...ctx });
    },
    async findChargeByReference(reference: string, ctx: CallContext = {}): Promise<Charge | undefined> {
      const list = await http.request({ method: 'GET', path: '/v1/charges', query: { reference }, schema: ChargeList, rejection, ...ctx });
      return list.data.find((c) => c.metadata.reference === reference);
    },
  };
}
