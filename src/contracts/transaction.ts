/**
 * What every saga shares with the edge: the request envelope (who, which key, which body), the
 * step and saga states the status resource shows, the status query and the attach update, and the
 * task queues and search attributes. Zod and constants only.
 */
import { z } from 'zod';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';

/** Customer IDs come from the JWT subject; keep them to a safe alphabet. */
export const CustomerId = z.string().regex(/^[A-Za-z0-9_.@|-]{1,128}$/, 'a customer ID (letters, digits, _ . @ | -)');

/** IETF draft-ietf-httpapi-idempotency-key-header: a non-empty string; we cap it at 255 visible ASCII characters. */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, '1 to 255 visible ASCII characters');

export const Region = z.string().regex(/^[a-z0-9-]{1,32}$/, 'a region or tier name (a-z, 0-9, -)');

/** The request that started a transaction, as every saga input carries it. */
export const TransactionRequest = z.strictObject({
  customerId: CustomerId,
  idempotencyKey: IdempotencyKey,
  /** sha256 of the canonical request body: the same key with another body is a different request. */
  fingerprint: z.string(),
  /** A nonce of the request that started the saga: an attach carrying the same one is the creator. */
  startToken: z.string(),
  requestId: z.string(),
  receivedAt: z.string(),
  /** The caller's region or tier (token claim `region`): picks the downstream credentials configured for it. */
  region: Region.optional(),
});
export type TransactionRequest = z.infer<typeof TransactionRequest>;

export const SagaStatus = z.enum(['running', 'completed', 'compensating', 'compensated', 'failed', 'needs_attention']);
export type SagaStatus = z.infer<typeof SagaStatus>;

/** Statuses after which nothing more happens without an operator: what a waiting caller waits for. */
export const SETTLED_STATUSES: readonly SagaStatus[] = ['completed', 'compensated', 'failed', 'needs_attention'];

export const StepState = z.enum(['pending', 'running', 'completed', 'failed', 'skipped', 'compensating', 'compensated', 'compensation_failed']);
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
  /** Live retry state of a running step, from Temporal (not from the workflow). */
  attempt: z.number().int().optional(),
  lastFailure: z.string().optional(),
  nextAttemptAt: z.string().optional(),
});
export type StepStatus = z.infer<typeof StepStatus>;

/** An event a provider or partner pushed to us (webhook), as the saga recorded it. */
export const RecordedEvent = z.object({
  source: z.string(),
  eventId: z.string(),
  type: z.string(),
  receivedAt: z.string(),
  /** What it did: `applied`, or `ignored: <why>` (late, out of order, after settlement). */
  effect: z.string(),
});
export type RecordedEvent = z.infer<typeof RecordedEvent>;

/**
 * An operator's decision on a parked saga (`needs_attention`): retry the parked step or
 * compensation, skip it (with a reason: it was handled by hand), or abort (with a reason).
 */
export const OperatorDecision = z.strictObject({
  action: z.enum(['retry', 'skip', 'abort']),
  reason: z.string().max(1000).optional(),
  /** Who decided: the admin API fills it from the support token; CLI and Web UI users type it. */
  operator: z.string().min(1).max(200),
});
export type OperatorDecision = z.infer<typeof OperatorDecision>;
export const RecordedDecision = OperatorDecision.extend({ step: z.string(), at: z.string() });
export type RecordedDecision = z.infer<typeof RecordedDecision>;

/** What is parked, when a saga needs an operator. */
export const Parked = z.object({ step: z.string(), kind: z.enum(['step', 'compensation']), error: StepError, since: z.string() });
export type Parked = z.infer<typeof Parked>;

/** What the status query returns while running, and what a saga returns (or carries in its failure) at the end. */
export const TransactionStatus = z.object({
  workflowId: z.string(),
  customerId: z.string(),
  idempotencyKey: z.string(),
  status: SagaStatus,
  steps: z.array(StepStatus),
  failure: z.object({ step: z.string(), type: z.string(), message: z.string() }).optional(),
  events: z.array(RecordedEvent).optional(),
  parked: Parked.optional(),
  decisions: z.array(RecordedDecision).optional(),
  requestId: z.string(),
  receivedAt: z.string(),
  updatedAt: z.string(),
});
export type TransactionStatus = z.infer<typeof TransactionStatus>;

export const transactionStatusQuery = defineQuery<TransactionStatus>('status');

/** A verified webhook event for a running saga; the saga ignores an eventId it has seen (per source). */
export const WebhookEvent = z.object({
  source: z.string(),
  eventId: z.string(),
  type: z.string(),
  receivedAt: z.string(),
  /** The provider's object the event is about, e.g. a charge ID. */
  objectId: z.string().optional(),
  reason: z.string().optional(),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;
export const webhookEventSignal = defineSignal<[WebhookEvent]>('webhookEvent');

/** Workflow type that durably records an event whose saga has already finished (or never existed). */
export const LATE_EVENT_WORKFLOW = 'webhookEventRecord';
export function lateEventWorkflowId(source: string, eventId: string): string {
  return `webhook:${encodeURIComponent(source)}:${encodeURIComponent(eventId)}`;
}

/** Only our own sagas may be signalled by a webhook: their workflow IDs start with these. */
export const SAGA_ID_PREFIXES = ['order:', 'refund:'] as const;

/**
 * The edge's update: attach a request to the saga its key names. The validator rejects a request
 * from another key (`TransactionExists`) or with another body (`IdempotencyKeyReused`); the creator
 * may wait for the saga to settle, anyone else gets the current status at once.
 */
export const AttachRequest = z.strictObject({ idempotencyKey: z.string(), fingerprint: z.string(), startToken: z.string(), waitForOutcome: z.boolean() });
export type AttachRequest = z.infer<typeof AttachRequest>;
export interface AttachResult {
  created: boolean;
  status: TransactionStatus;
}
export const attachUpdate = defineUpdate<AttachResult, [AttachRequest]>('attach');

/** The operator's update on a parked saga; its validator rejects a decision that does not fit. */
export const decideUpdate = defineUpdate<{ accepted: true; step: string; action: OperatorDecision['action'] }, [OperatorDecision]>('decide');

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
