/**
 * The order saga's contract: what the edge accepts, what the workflow takes and reports, and the
 * workflow ID that ties a request to its effects. Re-exports the shared transaction contract.
 * Shared by the API, the workflows and the activities, so: zod and constants only.
 */
import { z } from 'zod';
import type { QueryDefinition } from '@temporalio/workflow';
import { TransactionRequest, TransactionStatus, transactionStatusQuery } from './transaction';

export * from './transaction';

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

export const PlaceOrder = z.strictObject({
  items: z.array(OrderItem).min(1).max(50),
  currency: Currency,
  paymentMethod: z.strictObject({ token: z.string().min(1).max(200) }),
});
export type PlaceOrder = z.infer<typeof PlaceOrder>;

export const OrderSagaInput = TransactionRequest.extend({
  order: PlaceOrder,
  /** How long to wait for an asynchronous payment's outcome (webhook) before cancelling the charge. */
  paymentTimeoutSeconds: z.number().int().positive().optional(),
});

/** Used when the input does not say (histories from before the setting existed). */
export const DEFAULT_PAYMENT_TIMEOUT_SECONDS = 600;
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

/** The forward steps, in order; each compensation is named after the step it undoes. */
export const ORDER_STEPS = ['createOrder', 'chargePayment', 'grantAccess', 'completeOrder'] as const;
export type OrderStep = (typeof ORDER_STEPS)[number];
export const ORDER_COMPENSATIONS = { createOrder: 'cancelOrder', chargePayment: 'refundPayment', grantAccess: 'revokeAccess' } as const;

/**
 * Workflow IDs come from business keys, so a retried request lands on the same workflow. Both parts
 * are percent-encoded so that no (customer, key) pair can collide with another through the separator.
 */
export function orderWorkflowId(customerId: string, idempotencyKey: string): string {
  return `order:${encodeURIComponent(customerId)}:${encodeURIComponent(idempotencyKey)}`;
}

/** A decimal amount in minor units without floating point: "49.9" → 4990. */
export function toMinorUnits(amount: string): number {
  const [whole = '0', fraction = ''] = amount.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/** Sums items in minor units: "49.90" x 2 → 9980. */
export function totalMinorUnits(items: readonly OrderItem[]): number {
  return items.reduce((sum, item) => sum + toMinorUnits(item.unitPrice) * item.quantity, 0);
}

export function formatMinorUnits(minor: number): string {
  const whole = Math.floor(minor / 100);
  const cents = String(minor % 100).padStart(2, '0');
  return `${whole}.${cents}`;
}
