/**
 * Bench only: the chain's steps with the project's clients (src/clients), each call with its own
 * Idempotency-Key, as a synchronous proxy would make them. The direct path awaits them in a row; the
 * bare saga runs the very same functions as its local activities.
 */
import { downstreamKey, toMinorUnits, totalMinorUnits, type PlaceOrder } from '../src/contracts/order';
import type { createDownstreamClients } from '../src/worker';
import type { ChainInput, ChainSteps } from './chain-shape';

export function chainSteps({ legacy, payments, fulfilment }: ReturnType<typeof createDownstreamClients>): ChainSteps {
  const ctx = (input: ChainInput, step: string) => ({ idempotencyKey: downstreamKey(input.reference, step) });
  return {
    createOrder: async (i) => (await legacy.createOrder({ customerId: i.customerId, reference: i.reference, currency: i.currency, lines: i.lines }, ctx(i, 'createOrder'))).orderNumber,
    charge: async (i) => void (await payments.charge({ amountMinor: i.amountMinor, currency: i.currency, token: i.token, reference: i.reference }, ctx(i, 'chargePayment'))),
    grant: async (i) => void (await fulfilment.grant({ customerId: i.customerId, skus: i.skus, reference: i.reference }, ctx(i, 'grantAccess'))),
    completeOrder: async (i, orderNumber) => void (await legacy.completeOrder(orderNumber, ctx(i, 'completeOrder'))),
  };
}

/** The chain's input for one order of `customerId`, under `reference`. */
export function chainInput(order: PlaceOrder, customerId: string, reference: string): ChainInput {
  return {
    customerId,
    reference,
    currency: order.currency,
    lines: order.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceMinor: toMinorUnits(i.unitPrice) })),
    amountMinor: totalMinorUnits(order.items),
    token: order.paymentMethod.token,
    skus: order.items.map((i) => i.sku),
  };
}
