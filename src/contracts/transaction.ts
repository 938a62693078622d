/**
 * What every saga shares with the edge: the request envelope (who, which key, which body), the
 * step and saga states the status resource shows, the status query, the operator's decision update,
 * the downstream keys and references, and the task queues and search attributes. Zod and constants only.
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
  /** Our reference the event named (an attempt's reference, e.g. `order:…#2`); older events lack it. */
  reference: z.string().optional(),
  reason: z.string().optional(),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;
export const webhookEventSignal = defineSignal<[WebhookEvent]>('webhookEvent');

/** Workflow type that durably records an event whose saga has already finished (or never existed). */
export const LATE_EVENT_WORKFLOW = 'webhookEventRecord';

/**
 * Events that came before their saga started are held, per saga, by a workflow of this type (ID
 * `webhook-held:<sagaId>`) and handed to the saga as soon as it starts: the edge tells it when it
 * starts a saga, and it also tries now and then by itself. Held for up to EARLY_EVENT_HOLD_MS.
 */
export const HELD_EVENTS_WORKFLOW = 'heldWebhookEvents';
export const EARLY_EVENT_HOLD_MS = 3_600_000;
export function heldEventsWorkflowId(sagaId: string): string {
  return `webhook-held:${sagaId}`;
}
export const holdEventSignal = defineSignal<[WebhookEvent]>('holdEvent');
export const sagaStartedSignal = defineSignal<[]>('sagaStarted');
export function lateEventWorkflowId(source: string, eventId: string): string {
  return `webhook:${encodeURIComponent(source)}:${encodeURIComponent(eventId)}`;
}

/** Only our own sagas may be signalled by a webhook: their workflow IDs start with these. */
export const SAGA_ID_PREFIXES = ['order:', 'refund:'] as const;


/** The operator's update on a parked saga; its validator rejects a decision that does not fit. */
export const decideUpdate = defineUpdate<{ accepted: true; step: string; action: OperatorDecision['action'] }, [OperatorDecision]>('decide');

/**
 * Failure types a saga treats as operational faults: it waits and tries the step again with the
 * same key, however long it takes, and never compensates the customer's transaction for them.
 */
export const OPERATIONAL_FAILURES: readonly string[] = ['DownstreamAuthFailed'];

/** A forward step found its attempt already undone (a reset or replay of a compensated run): start a new attempt. */
export const ATTEMPT_UNDONE = 'AttemptUndone';

/**
 * The key a downstream sees for one step of one saga: `<workflowId>/<step>/<epoch>`. The epoch
 * changes only when a person decides the step must really happen again; the rule and its reasons
 * are in `workflows/saga.ts`. Without an epoch: the key of histories from before epochs existed.
 */
export function downstreamKey(workflowId: string, step: string, epoch?: string): string {
  return epoch === undefined ? `${workflowId}/${step}` : `${workflowId}/${step}/${epoch}`;
}

/**
 * The reference downstream objects of one attempt carry (legacy order, charge metadata,
 * enrollment), by which compensations and reconciliations find them: the workflow ID for the
 * first attempt, `<workflowId>#<n>` for a replayed attempt n.
 */
export function attemptReference(workflowId: string, attempt: number): string {
  return attempt <= 1 ? workflowId : `${workflowId}#${attempt}`;
}

/** The transaction (workflow ID) a downstream reference belongs to; workflow IDs never contain `#` (they are percent-encoded). */
export function transactionOfReference(reference: string): string {
  const hash = reference.indexOf('#');
  return hash < 0 ? reference : reference.slice(0, hash);
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
