/**
 * What every saga shares with the edge: the request envelope (who, which key, which body), the
 * step and saga states the status resource shows, the status query, the operator's decision update,
 * the downstream keys and references, and the task queues and search attributes. The schemas are
 * here; the names, messages and rules the workflows use are in transaction-protocol.ts (re-exported).
 */
import { z } from 'zod';
import { DECISION_LIMITS } from './transaction-protocol';

export * from './transaction-protocol';

/** Customer IDs come from the JWT subject; keep them to a safe alphabet. */
export const CustomerId = z.string().regex(/^[A-Za-z0-9_.@|-]{1,128}$/, 'a customer ID (letters, digits, _ . @ | -)');

/** IETF draft-ietf-httpapi-idempotency-key-header: a non-empty string; we cap it at 255 visible ASCII characters. */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, '1 to 255 visible ASCII characters');

export const Region = z.string().regex(/^[a-z0-9-]{1,32}$/, 'a region or tier name (a-z, 0-9, -)');

/** A verified webhook event for a running saga; the saga ignores an eventId it has seen (per source). */
export const WebhookEvent = z.object({
  source: z.string(),
  eventId: z.string(),
  type: z.string(),
  receivedAt: z.string(),
  /** The provider's object the event is about, e.g. a charge ID. */
  objectId: z.string().optional(),
  /** Our reference the event named (an attempt's reference, e.g. `order:…#2`); older events lack it. */
  reference: z.string().optional(),
  reason: z.string().optional(),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/** The request that started a transaction, as every saga input carries it. */
export const TransactionRequest = z.strictObject({
  customerId: CustomerId,
  idempotencyKey: IdempotencyKey,
  /** sha256 of the canonical request body: the same key with another body is a different request. */
  fingerprint: z.string(),
  /** A nonce of the request that started the saga: the edge tells the creator from a retry by it (kept in the memo). */
  startToken: z.string(),
  requestId: z.string(),
  receivedAt: z.string(),
  /** The caller's region or tier (token claim `region`): picks the downstream credentials configured for it. */
  region: Region.optional(),
  /**
   * The task queue of each downstream's activities. Given by the edge; histories from before it
   * existed fall back to the workflow's own queue prefix.
   */
  taskQueues: z.strictObject({ legacyEcommerce: z.string(), payments: z.string(), fulfilment: z.string() }).optional(),
  /**
   * Forward steps try a local activity first (one task for the whole happy path), then their
   * downstream's queue; false: always the queue. Absent: on. Set by the edge from FAST_PATH.
   */
  fastPath: z.boolean().optional(),
  /**
   * Which attempt at the business transaction this run is (1 unless support replayed it): a replay
   * is a new attempt with new downstream keys and a new reference. See `workflows/saga.ts`.
   */
  attempt: z.number().int().min(1).optional(),
  /** Who replayed it, why, and under which Idempotency-Key (admin replay); absent on a customer's own run. */
  replay: z.object({ operator: z.string(), reason: z.string(), key: z.string(), previousRunId: z.string() }).optional(),
  /**
   * Webhook events that came before the saga existed (held by its `heldWebhookEvents` workflow),
   * handed over in the start itself: the saga has them before its first step, however fast it
   * finishes. Given by the edge; absent when none were held.
   */
  earlyEvents: z.array(WebhookEvent).optional(),
});
export type TransactionRequest = z.infer<typeof TransactionRequest>;

export const SagaStatus = z.enum(['running', 'completed', 'compensating', 'compensated', 'failed', 'needs_attention']);
export type SagaStatus = z.infer<typeof SagaStatus>;

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
  /** The attempt epoch of the key the step's downstream call carries (`1`, `1.2` after an operator retry, `2` on a replay). */
  epoch: z.string().optional(),
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
  reason: z.string().max(DECISION_LIMITS.reason).optional(),
  /** Who decided: the admin API fills it from the support token; CLI and Web UI users type it. */
  operator: z.string().min(1).max(DECISION_LIMITS.operator),
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
  /** Which attempt at the transaction this is, and the reference its downstream objects carry. */
  attempt: z.number().int().optional(),
  reference: z.string().optional(),
  /** Earlier attempts found already undone (after a reset or replay), each finished undoing before this one began. */
  undoneAttempts: z.array(z.object({ attempt: z.number().int(), reference: z.string(), found: z.string(), at: z.string() })).optional(),
  replay: TransactionRequest.shape.replay,
  steps: z.array(StepStatus),
  failure: z.object({ step: z.string(), type: z.string(), message: z.string() }).optional(),
  events: z.array(RecordedEvent).optional(),
  parked: Parked.optional(),
  decisions: z.array(RecordedDecision).optional(),
  /** An operator's Cancel (Web UI, CLI) that came where an abort would strand an effect: not acted on, and why. */
  cancelRefused: z.object({ at: z.string(), reason: z.string() }).optional(),
  requestId: z.string(),
  receivedAt: z.string(),
  updatedAt: z.string(),
});
export type TransactionStatus = z.infer<typeof TransactionStatus>;

