/**
 * The part of the transaction contract the workflows use: messages (status query, webhook and
 * decision signals/updates), the downstream keys and references, task queues and search
 * attributes. No zod here, and nothing that imports it at run time: this module is in the workflow
 * bundle, which a worker evaluates again for every workflow it starts, so every module it pulls in
 * is paid for on each saga's first workflow task. Types come from the schemas, as types only.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';
import type { OperatorDecision, SagaStatus, TransactionStatus, WebhookEvent } from './transaction';

/** What a step skipped by an operator (done by hand) answers in a saga's result: nothing of ours stands for it. */
export const SKIPPED_BY_OPERATOR = 'skipped-by-operator';

/** An operator's decision: who (`operator`) and why (`reason`), at most this long (the admin API's schema and the workflow's validator). */
export const DECISION_LIMITS = { operator: 200, reason: 1000 } as const;

/** Statuses after which nothing more happens without an operator: what a waiting caller waits for. */
export const SETTLED_STATUSES: readonly SagaStatus[] = ['completed', 'compensated', 'failed', 'needs_attention'];

export const transactionStatusQuery = defineQuery<TransactionStatus>('status');

export const webhookEventSignal = defineSignal<[WebhookEvent]>('webhookEvent');

/** Workflow type that durably records an event whose saga has already finished (or never existed). */
export const LATE_EVENT_WORKFLOW = 'webhookEventRecord';

/**
 * Events that came before their saga started are held, per saga, by a workflow of this type (ID
 * `webhook-held:<sagaId>`). The edge reads them (heldEventsQuery) just before it starts the saga
 * and hands them over in the start (`earlyEvents`), then tells the holder which it handed over
 * (sagaStartedSignal); any other is signalled to the saga, or recorded as late if the saga has
 * already finished. For sagas started elsewhere the holder tries now and then by itself. Held for
 * up to EARLY_EVENT_HOLD_MS.
 */
export const HELD_EVENTS_WORKFLOW = 'heldWebhookEvents';
export const EARLY_EVENT_HOLD_MS = 3_600_000;
export function heldEventsWorkflowId(sagaId: string): string {
  return `webhook-held:${sagaId}`;
}
export const holdEventSignal = defineSignal<[WebhookEvent]>('holdEvent');

/** What makes a webhook event the same event again: its source and its ID there. */
export function webhookEventKey(event: Pick<WebhookEvent, 'source' | 'eventId'>): string {
  return `${event.source}\u0000${event.eventId}`;
}
export const heldEventsQuery = defineQuery<WebhookEvent[]>('heldEvents');
/** The saga has started; `handedOver`: the events it got in its start. (Older senders give no argument.) */
export const sagaStartedSignal = defineSignal<[SagaStarted?]>('sagaStarted');
export interface SagaStarted {
  handedOver: Array<Pick<WebhookEvent, 'source' | 'eventId'>>;
}
/** The sagaStartedSignal's argument, from the events the saga got in its start. */
export function sagaStarted(handedOver: readonly WebhookEvent[]): SagaStarted {
  return { handedOver: handedOver.map(({ source, eventId }) => ({ source, eventId })) };
}
export function lateEventWorkflowId(source: string, eventId: string): string {
  return `webhook:${encodeURIComponent(source)}:${encodeURIComponent(eventId)}`;
}

/**
 * The CustomerId search attribute of the records kept for a transaction's events (held, late), so
 * they show up in "everything for customer X": `order:<customer>:<key>` → the customer.
 */
export function customerSearchAttributes(target: string): SearchAttributePair[] {
  const { customerId } = keysOfTransaction(target);
  return customerId !== undefined ? [{ key: searchAttributes.customerId, value: customerId }] : [];
}

/** The business keys a transaction's workflow ID was made from: `order:<customer>:<key>`, `refund:<customer>:<orderKey>`. */
export function keysOfTransaction(workflowId: string): { customerId?: string; key?: string } {
  const match = /^(?:order|refund):([^:]+):([^:#]*)/.exec(workflowId);
  if (!match) return {};
  try {
    return { customerId: decodeURIComponent(match[1]!), key: decodeURIComponent(match[2]!) };
  } catch {
    return {}; // not one of ours
  }
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
