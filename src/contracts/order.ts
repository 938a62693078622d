/**
 * The order saga's contract: what the edge accepts, what the workflow takes and reports, and the
 * workflow ID that ties a request to its effects. Re-exports the shared transaction contract and
 * order-protocol.ts, the part the workflows use (steps, money arithmetic, workflow IDs; no zod).
 */
import { z } from 'zod';
import type { QueryDefinition } from '@temporalio/workflow';
import { TransactionRequest, TransactionStatus, transactionStatusQuery } from './transaction';
import { MAX_ORDER_TOTAL_MINOR, MIN_ORDER_TOTAL_MINOR, formatMinorUnits, totalMinorUnits } from './order-protocol';

export * from './transaction';
export * from './order-protocol';

/** Currencies with two minor units; amounts are decimal strings so no float ever touches money. */
export const Currency = z.enum(['USD', 'EUR', 'GBP', 'CAD', 'AUD']);
export type Currency = z.infer<typeof Currency>;

export const Money = z.string().regex(/^\d{1,7}(\.\d{1,2})?$/, 'a decimal amount such as "49.00"');

export const OrderItem = z.strictObject({
  sku: z.string().min(1).max(200),
  quantity: z.number().int().min(1).max(100),
  unitPrice: Money,
});
export type OrderItem = z.infer<typeof OrderItem>;

export const PlaceOrder = z
  .strictObject({
    items: z.array(OrderItem).min(1).max(50),
    currency: Currency,
    paymentMethod: z.strictObject({ token: z.string().min(1).max(200) }),
  })
  // Bounded at the edge, before anything starts: a total our own result cannot hold would be
  // charged and then never answered ("processed but unacknowledged").
  .check((ctx) => {
    // One line per SKU: two lines of one course (at two prices) would charge for both and grant it once.
    const seen = new Set<string>();
    ctx.value.items.forEach((item, i) => {
      if (seen.has(item.sku)) ctx.issues.push({ code: 'custom', input: item.sku, path: ['items', i, 'sku'], message: 'each SKU may appear once per order: use quantity for more than one' });
      seen.add(item.sku);
    });
    const total = totalMinorUnits(ctx.value.items);
    if (total < MIN_ORDER_TOTAL_MINOR || total > MAX_ORDER_TOTAL_MINOR) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.items,
        path: ['items'],
        message: `the order total must be between ${formatMinorUnits(MIN_ORDER_TOTAL_MINOR)} and ${formatMinorUnits(MAX_ORDER_TOTAL_MINOR)}`,
      });
    }
  });
export type PlaceOrder = z.infer<typeof PlaceOrder>;

export const OrderSagaInput = TransactionRequest.extend({
  order: PlaceOrder,
  /** How long to wait for an asynchronous payment's outcome (webhook) before cancelling the charge. */
  paymentTimeoutSeconds: z.number().int().positive().optional(),
});

export type OrderSagaInput = z.infer<typeof OrderSagaInput>;

export const PlacedOrder = z.object({
  orderNumber: z.string(),
  chargeId: z.string(),
  enrollmentId: z.string(),
  total: z.object({ amount: Money, currency: Currency }),
  /** The reference the order's downstream objects carry (the attempt that completed); a refund finds them by it. */
  reference: z.string().optional(),
});
export type PlacedOrder = z.infer<typeof PlacedOrder>;

export const OrderStatus = TransactionStatus.extend({ order: PlacedOrder.optional() });
export type OrderStatus = z.infer<typeof OrderStatus>;

/** The status query every saga answers, typed for orders. */
export const orderStatusQuery = transactionStatusQuery as QueryDefinition<OrderStatus>;
