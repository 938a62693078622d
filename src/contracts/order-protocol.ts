/**
 * The part of the order contract the workflow uses: its steps and their compensations, money in
 * minor units, the workflow ID, the payment wait. No zod (see transaction-protocol.ts for why).
 */
import type { OrderItem } from './order';

/**
 * The largest total anything downstream of the edge holds: our own `Money` (7 integer digits) in
 * the order's result. The smallest is one minor unit: a payment provider charges nothing below it.
 */
export const MAX_ORDER_TOTAL_MINOR = 999_999_999;
export const MIN_ORDER_TOTAL_MINOR = 1;

/** How long an order waits for an asynchronous payment's outcome when its input does not say (histories from before the setting existed). */
export const DEFAULT_PAYMENT_TIMEOUT_SECONDS = 600;

/**
 * The webhook source whose events settle a charge: the payment processor's own route
 * (POST /v1/webhooks/payments), whose events name the charge they are about. No other source
 * (a partner's Standard Webhooks) can say that money moved.
 */
export const PAYMENT_PROCESSOR_SOURCE = 'payments';

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
