/**
 * The order saga's contract: what the edge accepts, what the workflow takes and reports, and the
 * names (workflow IDs, task queues, downstream idempotency keys) that tie a request to its effects.
 * Shared by the API, the workflows and the activities, so: zod and constants only.
 */
import { z } from 'zod';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';

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

/** Customer IDs come from the JWT subject; keep them to a safe alphabet. */
export const CustomerId = z.string().regex(/^[A-Za-z0-9_.@|-]{1,128}$/, 'a customer ID (letters, digits, _ . @ | -)');

/** IETF draft-ietf-httpapi-idempotency-key-header: a non-empty string; we cap it at 255 visible ASCII characters. */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, '1 to 255 visible ASCII characters');

export const OrderSagaInput = z.strictObject({
  customerId: CustomerId,
  idempotencyKey: IdempotencyKey,
  order: PlaceOrder,
  /** sha256 of the canonical request body: the same key with another body is a different request. */
  fingerprint: z.string(),
  /** A nonce of the request that started the saga: an attach carrying the same one is the creator. */
  startToken: z.string(),
  requestId: z.string(),
  receivedAt: z.string(),
});
export type OrderSagaInput = z.infer<typeof OrderSagaInput>;

export const SagaStatus = z.enum(['running', 'completed', 'compensating', 'compensated', 'failed', 'needs_attention']);
export type SagaStatus = z.infer<typeof SagaStatus>;

export const StepState = z.enum(['pending', 'running', 'completed', 'failed', 'compensating', 'compensated', 'compensation_failed']);
export type StepState = z.infer<typeof StepState>;

export const StepError = z.object({ type: z.string(), message: z.string() });
export type StepError = z.infer<typeof StepError>;

export const StepStatus = z.object({
  name: z.string(),
  state: StepState,
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  error: StepError.optional(),
  compensation: z.string().optional(),
  /** What the compensation found and did, e.g. `refunded`, `not_charged`. */
  compensationOutcome: z.string().optional(),
});
export type StepStatus = z.infer<typeof StepStatus>;

export const PlacedOrder = z.object({
  orderNumber: z.string(),
  chargeId: z.string(),
  enrollmentId: z.string(),
  total: z.object({ amount: Money, currency: Currency }),
});
export type PlacedOrder = z.infer<typeof PlacedOrder>;

/** What the status query returns while running, and what the workflow returns (or carries in its failure) at the end. */
export const OrderStatus = z.object({
  workflowId: z.string(),
  customerId: z.string(),
  idempotencyKey: z.string(),
  status: SagaStatus,
  steps: z.array(StepStatus),
  order: PlacedOrder.optional(),
  failure: z.object({ step: z.string(), type: z.string(), message: z.string() }).optional(),
  requestId: z.string(),
  receivedAt: z.string(),
  updatedAt: z.string(),
});
export type OrderStatus = z.infer<typeof OrderStatus>;

export const orderStatusQuery = defineQuery<OrderStatus>('orderStatus');

/** Statuses after which nothing more happens without an operator: what a waiting caller waits for. */
export const SETTLED_STATUSES: readonly SagaStatus[] = ['completed', 'compensated', 'failed', 'needs_attention'];

/**
 * The edge's update: attach a request to the saga its key names. The validator rejects a request
 * whose body differs from the original (type `IdempotencyKeyReused`); the creator may wait for the
 * saga to settle, anyone else gets the current status at once.
 */
export const AttachRequest = z.strictObject({ fingerprint: z.string(), startToken: z.string(), waitForOutcome: z.boolean() });
export type AttachRequest = z.infer<typeof AttachRequest>;
export interface AttachResult {
  created: boolean;
  status: OrderStatus;
}
export const attachUpdate = defineUpdate<AttachResult, [AttachRequest]>('attach');

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

/**
 * The key a downstream sees for one step of one saga: the workflow ID and the step name, never the
 * run ID or the attempt, so activity retries, worker crashes and operator resets reuse it.
 */
export function downstreamKey(workflowId: string, step: string): string {
  return `${workflowId}/${step}`;
}

/**
 * Task queues: one for workflows and one per downstream service (bulkheads: a slow service starves
 * only its own activity workers). A prefix lets several deployments or test runs share a namespace.
 */
export function taskQueues(prefix = '') {
  return {
    orders: `${prefix}orders`,
    legacyEcommerce: `${prefix}legacy-ecommerce`,
    payments: `${prefix}payments`,
    fulfilment: `${prefix}fulfilment`,
  } as const;
}
export type TaskQueues = ReturnType<typeof taskQueues>;
export type TaskQueueRole = keyof TaskQueues;
export const TASK_QUEUE_ROLES = ['orders', 'legacyEcommerce', 'payments', 'fulfilment'] as const satisfies readonly TaskQueueRole[];

/** Recovers the prefix from the workflow task queue, so a workflow schedules activities next to itself. */
export function prefixOfOrdersQueue(ordersQueue: string): string {
  return ordersQueue.endsWith('orders') ? ordersQueue.slice(0, -'orders'.length) : '';
}

/** Search attributes support staff filter on in the Web UI (registered by `npm start`). */
export const searchAttributes = {
  customerId: defineSearchAttributeKey('CustomerId', 'KEYWORD'),
  orderKey: defineSearchAttributeKey('OrderKey', 'KEYWORD'),
  sagaStatus: defineSearchAttributeKey('SagaStatus', 'KEYWORD'),
  failedStep: defineSearchAttributeKey('FailedStep', 'KEYWORD'),
} as const;

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
