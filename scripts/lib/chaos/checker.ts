/**
 * The chaos suite's judge: a pure function from what the simulators' ledgers and states, Temporal's
 * visibility and histories, and the clients' own notes of what they were answered say, to the
 * invariants that were broken. It reads no state of the coordinator's own. It holds whichever
 * downstream key format is in force: `<workflowId>/<step>` or `<workflowId>/<step>/<epoch>`
 * (epoch `1`, `1.2`, `2`; a sub-operation such as `/cancel` may follow), and references
 * `<workflowId>` (attempt 1) or `<workflowId>#<n>` (a replayed attempt n ≥ 2).
 */

export type Service = 'legacy' | 'payments' | 'fulfilment';

/** One entry of a simulator's ledger: an effect that really happened. */
export interface LedgerEffect {
  service: Service;
  op: string;
  idempotencyKey: string;
  ref: string;
  at: string;
}

export interface LegacyOrder {
  order_number: string;
  reference: string;
  status: 'OPN' | 'CMP' | 'CNL' | 'RFD';
  total_cents: string;
}
export interface Charge {
  id: string;
  amount: number;
  status: 'succeeded' | 'pending' | 'failed' | 'canceled';
  refunded: boolean;
  metadata: { reference: string };
}
export interface Refund {
  id: string;
  charge: string;
  amount: number;
}
export interface Enrollment {
  id: string;
  reference: string;
  status: 'active' | 'revoked';
}

/** The downstream objects as the simulators hold them at the end (`GET /_sim/state`). */
export interface DownstreamState {
  orders: LegacyOrder[];
  charges: Charge[];
  refunds: Refund[];
  enrollments: Enrollment[];
}

/** A workflow as Temporal's visibility and history show it. */
export interface WorkflowFact {
  workflowId: string;
  type: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, CANCELLED, TIMED_OUT, CONTINUED_AS_NEW. */
  status: string;
  /** The SagaStatus search attribute. */
  sagaStatus?: string;
  /** The FailedStep search attribute (what a parked saga waits on). */
  failedStep?: string;
  /** Event IDs of every webhook signal in its history. */
  signalledEventIds: string[];
  /** A pending activity is waiting for its next attempt (Temporal will retry it on its own). */
  openRetry: boolean;
}

/** One answer a client got (or did not get) to one try of a request. */
export interface Answer {
  /** HTTP status, or what happened instead. */
  status: number | 'network-error' | 'dropped';
  retryAfter?: string;
  /** The problem+json `type`'s last segment, e.g. `idempotency-key-reused`. */
  problem?: string;
}

/** A command a client sent (with every retry under the same key), as the client noted it. */
export interface ClientRequest {
  kind: 'order' | 'refund';
  /** The workflow this request names (from the caller's identity and key). */
  workflowId: string;
  /** `altered`: the same key sent on purpose with another body. */
  body: 'original' | 'altered';
  answers: Answer[];
}

/** Any other call a client made (status lookups, webhooks): only the 5xx rule applies. */
export interface OtherCall {
  what: string;
  workflowId: string;
  answers: Answer[];
}

/** A webhook delivery the chaos forged (bad signature, tampered body, expired timestamp). */
export interface ForgedWebhook {
  eventId: string;
  /** The transaction it pretended to be about. */
  workflowId: string;
  answer: Answer;
}

export interface Observations {
  ledger: LedgerEffect[];
  state: DownstreamState;
  workflows: WorkflowFact[];
  requests: ClientRequest[];
  otherCalls: OtherCall[];
  forged: ForgedWebhook[];
  /**
   * Transactions whose outcome support changed (a replay, a CLI reset that took effect), with how many
   * answers the customer had had by then: those may rightly contradict the outcome; later ones may not.
   */
  outcomeChangedAt?: Readonly<Record<string, number>>;
}

export type ViolationKind =
  | 'stuck'
  | 'doubled-effect'
  | 'double-charge'
  | 'double-access'
  | 'double-order'
  | 'access-without-payment'
  | 'payment-without-access'
  | 'legacy-order-out-of-step'
  | 'outcome-out-of-step'
  | 'charge-left-pending'
  | 'refund-exceeds-charge'
  | 'forged-webhook-accepted'
  | 'forged-webhook-effect'
  | '5xx-without-retry-after'
  | '2xx-for-unrecorded-work'
  | 'answer-contradicts-outcome'
  | 'key-reuse-accepted';

export interface Violation {
  kind: ViolationKind;
  workflowId: string;
  detail: string;
}

export type TransactionOutcome = 'completed' | 'refunded' | 'compensated' | 'failed' | 'parked' | 'retrying' | 'stuck' | 'never-received';

export interface Verdict {
  violations: Violation[];
  /** Transactions (orders, with their refund) by outcome. */
  outcomes: Record<TransactionOutcome, number>;
  /** Effects in the ledgers, by service and operation. */
  effects: Record<string, number>;
}

/** `order:c:k/chargePayment/1.2/cancel` → transaction, step, epoch (`1` when the key has none) and sub-operation. */
export function parseDownstreamKey(key: string): { transaction: string; step: string; epoch: string; sub: string } {
  const [transaction = key, step = '', ...rest] = key.split('/');
  const epochAt = rest.findIndex((part) => /^\d+(\.\d+)*$/.test(part));
  const epoch = epochAt >= 0 ? rest[epochAt]! : '1';
  const sub = rest.filter((_, i) => i !== epochAt).join('/');
  return { transaction, step, epoch, sub };
}

/** `order:c:k#2` → the workflow and attempt 2; `order:c:k` → attempt 1. */
export function parseReference(reference: string): { workflowId: string; attempt: number } {
  const m = /^(.*)#(\d+)$/.exec(reference);
  return m ? { workflowId: m[1]!, attempt: Number(m[2]) } : { workflowId: reference, attempt: 1 };
}

/** `order:c:k` → `refund:c:k`: the refund saga of an order, whose ID comes from the order's. */
export function refundIdOf(orderWorkflowId: string): string {
  return orderWorkflowId.replace(/^order:/, 'refund:');
}

/** The workflow type that holds webhook events which came before their saga (src/workflows/webhook-event.ts). */
export const HELD_EVENTS_WORKFLOW = 'heldWebhookEvents';
const isRunning = (w: WorkflowFact | undefined) => w?.status === 'RUNNING';
const isParked = (w: WorkflowFact | undefined) => isRunning(w) && w?.sagaStatus === 'needs_attention';
const is2xx = (a: Answer) => typeof a.status === 'number' && a.status >= 200 && a.status < 300;

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

export function check(obs: Observations): Verdict {
  const violations: Violation[] = [];
  const flag = (kind: ViolationKind, workflowId: string, detail: string) => violations.push({ kind, workflowId, detail });
  const workflows = new Map(obs.workflows.map((w) => [w.workflowId, w]));

  // 1. Every transaction settles (terminal or parked); nothing runs on without an open retry.
  for (const w of obs.workflows) {
    // Events held for a saga that had not started are no transaction: the holder waits on its own
    // timer (an open retry of its delivery) for a bounded hour, then ends.
    if (w.type === HELD_EVENTS_WORKFLOW) continue;
    if (isRunning(w) && !isParked(w) && !w.openRetry) flag('stuck', w.workflowId, `still running (saga status ${w.sagaStatus ?? 'unknown'}) with no activity waiting for a retry`);
  }

  // 2. At most one effect per (transaction, step, epoch) and operation.
  const effects: Record<string, number> = {};
  for (const e of obs.ledger) effects[`${e.service}.${e.op}`] = (effects[`${e.service}.${e.op}`] ?? 0) + 1;
  for (const [, group] of groupBy(obs.ledger, (e) => {
    const k = parseDownstreamKey(e.idempotencyKey);
    return [e.service, e.op, k.transaction, k.step, k.sub, k.epoch].join('\u0000');
  })) {
    if (group.length > 1) {
      const k = parseDownstreamKey(group[0]!.idempotencyKey);
      flag('doubled-effect', k.transaction, `${group.length} × ${group[0]!.service} ${group[0]!.op} for step ${k.step}${k.sub ? `/${k.sub}` : ''}, epoch ${k.epoch}: ${group.map((e) => `${e.ref} (key ${e.idempotencyKey})`).join(', ')}`);
    }
  }

  // 3. Money and access per reference (one replayed attempt of a transaction each).
  const { state } = obs;
  const chargesByRef = groupBy(state.charges, (c) => c.metadata.reference);
  const enrolmentsByRef = groupBy(state.enrollments, (e) => e.reference);
  const ordersByRef = groupBy(state.orders, (o) => o.reference);
  const refundsByCharge = groupBy(state.refunds, (r) => r.charge);
  const references = new Set([...chargesByRef.keys(), ...enrolmentsByRef.keys(), ...ordersByRef.keys()]);
  // The saga's outcome speaks for its latest attempt; earlier ones were compensated before a replay.
  const latestAttempt = new Map<string, number>();
  for (const r of references) {
    const { workflowId, attempt } = parseReference(r);
    latestAttempt.set(workflowId, Math.max(attempt, latestAttempt.get(workflowId) ?? 1));
  }

  for (const charge of state.charges) {
    const refunded = (refundsByCharge.get(charge.id) ?? []).reduce((sum, r) => sum + r.amount, 0);
    if (refunded > charge.amount) flag('refund-exceeds-charge', parseReference(charge.metadata.reference).workflowId, `charge ${charge.id} of ${charge.amount} refunded ${refunded}`);
    if (refunded > 0 && charge.status !== 'succeeded') flag('refund-exceeds-charge', parseReference(charge.metadata.reference).workflowId, `charge ${charge.id} is ${charge.status} yet refunded ${refunded}`);
  }

  for (const reference of references) {
    const { workflowId } = parseReference(reference);
    const saga = workflows.get(workflowId);
    const refund = workflows.get(refundIdOf(workflowId));
    const charges = chargesByRef.get(reference) ?? [];
    const enrolments = enrolmentsByRef.get(reference) ?? [];
    const orders = ordersByRef.get(reference) ?? [];
    if (charges.length > 1) flag('double-charge', workflowId, `${charges.length} charges with reference ${reference}: ${charges.map((c) => `${c.id} (${c.status}${c.refunded ? ', refunded' : ''})`).join(', ')}`);
    if (enrolments.filter((e) => e.status === 'active').length > 1) flag('double-access', workflowId, `${enrolments.filter((e) => e.status === 'active').length} active enrolments with reference ${reference}`);
    if (orders.length > 1) flag('double-order', workflowId, `${orders.length} legacy orders with reference ${reference}: ${orders.map((o) => `${o.order_number} (${o.status})`).join(', ')}`);

    // Still moving or waiting for a person: its money and access may be out of step on purpose.
    if (isRunning(saga) || isRunning(refund)) continue;

    const paid = charges.filter((c) => c.status === 'succeeded' && !c.refunded);
    const access = enrolments.filter((e) => e.status === 'active');
    const pending = charges.filter((c) => c.status === 'pending');
    const everRefunded = charges.some((c) => c.refunded);
    if (pending.length) flag('charge-left-pending', workflowId, `charge ${pending.map((c) => c.id).join(', ')} still pending after the transaction ended`);
    if (access.length && !paid.length) flag('access-without-payment', workflowId, `enrolment ${access.map((e) => e.id).join(', ')} active, but no unrefunded charge for ${reference} (${charges.map((c) => `${c.id}: ${c.status}${c.refunded ? ', refunded' : ''}`).join('; ') || 'no charge'})`);
    if (paid.length && !access.length) flag('payment-without-access', workflowId, `charge ${paid.map((c) => c.id).join(', ')} kept, but no active enrolment for ${reference}`);

    for (const order of orders) {
      const expected = paid.length && access.length ? ['CMP'] : everRefunded ? ['RFD', 'CNL'] : ['CNL'];
      if (!expected.includes(order.status)) {
        flag('legacy-order-out-of-step', workflowId, `legacy order ${order.order_number} is ${order.status}; with ${paid.length ? 'a kept charge' : 'no kept charge'} and ${access.length ? 'access' : 'no access'} it should be ${expected.join(' or ')}`);
      }
      if (order.status === 'RFD' && refund?.status !== 'COMPLETED') flag('legacy-order-out-of-step', workflowId, `legacy order ${order.order_number} is RFD, but no refund saga completed for it`);
    }

    // The saga's own outcome (from Temporal) agrees with the ledgers.
    if (parseReference(reference).attempt === latestAttempt.get(workflowId) && saga) {
      const kept = paid.length > 0 && access.length > 0;
      if (saga.status === 'COMPLETED' && refund?.status !== 'COMPLETED' && !kept) flag('outcome-out-of-step', workflowId, 'the order saga completed, but the customer holds no paid access');
      if (saga.status === 'COMPLETED' && refund?.status === 'COMPLETED' && (paid.length || access.length)) flag('outcome-out-of-step', workflowId, 'the refund saga completed, but a charge or access is still held');
      if (saga.status === 'FAILED' && (paid.length || access.length)) flag('outcome-out-of-step', workflowId, 'the order saga failed (compensated), but a charge or access is still held');
    }
  }

  // 4. Forged webhooks: refused, and seen by no workflow.
  const signalled = new Set(obs.workflows.flatMap((w) => w.signalledEventIds));
  for (const f of obs.forged) {
    if (is2xx(f.answer)) flag('forged-webhook-accepted', f.workflowId, `forged event ${f.eventId} was answered ${String(f.answer.status)}`);
    if (signalled.has(f.eventId) || workflows.has(`webhook:payments:${encodeURIComponent(f.eventId)}`)) flag('forged-webhook-effect', f.workflowId, `forged event ${f.eventId} reached a workflow`);
  }

  // 5. What clients were told: 5xx only with Retry-After; 2xx only for recorded work, agreeing with the outcome.
  for (const call of [...obs.requests, ...obs.otherCalls]) {
    for (const a of call.answers) {
      if (typeof a.status === 'number' && a.status >= 500 && !a.retryAfter) flag('5xx-without-retry-after', call.workflowId, `${'kind' in call ? `${call.kind} command` : call.what} answered ${a.status}${a.problem ? ` (${a.problem})` : ''} without Retry-After`);
    }
  }
  // One key, one request: whichever body reached Temporal first is the request; only it may get a 2xx.
  for (const [workflowId, sameKey] of groupBy(obs.requests, (r) => r.workflowId)) {
    const accepted = sameKey.filter((r) => r.answers.some(is2xx));
    if (new Set(accepted.map((r) => r.body)).size > 1) {
      flag('key-reuse-accepted', workflowId, `the same Idempotency-Key was answered ${accepted.map((r) => `${r.answers.filter(is2xx).map((a) => a.status).join('/')} for the ${r.body} body`).join(' and ')}`);
    }
  }
  for (const r of obs.requests) {
    const w = workflows.get(r.workflowId);
    if (!w && r.answers.some(is2xx)) flag('2xx-for-unrecorded-work', r.workflowId, `${r.kind} answered ${r.answers.filter(is2xx).map((a) => a.status).join(', ')}, but Temporal has no such transaction`);
    const judged = r.answers.slice(obs.outcomeChangedAt?.[r.workflowId] ?? 0);
    if (w && r.body === 'original') {
      if (judged.some((a) => a.status === 201) && w.status === 'FAILED') flag('answer-contradicts-outcome', r.workflowId, `answered 201, but the ${r.kind} saga failed`);
      if (judged.some((a) => a.status === 422 && a.problem === 'transaction-failed') && w.status === 'COMPLETED') flag('answer-contradicts-outcome', r.workflowId, `answered 422 transaction-failed, but the ${r.kind} saga completed`);
    }
  }

  return { violations, outcomes: outcomes(obs, workflows), effects };
}

/** Each order the clients asked for, by how it ended (its refund, if any, included). */
function outcomes(obs: Observations, workflows: Map<string, WorkflowFact>): Record<TransactionOutcome, number> {
  const counts: Record<TransactionOutcome, number> = { completed: 0, refunded: 0, compensated: 0, failed: 0, parked: 0, retrying: 0, stuck: 0, 'never-received': 0 };
  const orderIds = new Set(obs.requests.filter((r) => r.kind === 'order' && r.body === 'original').map((r) => r.workflowId));
  for (const id of orderIds) {
    const saga = workflows.get(id);
    const refund = workflows.get(refundIdOf(id));
    const open = [saga, refund].filter(isRunning);
    if (!saga) counts['never-received'] += 1;
    else if (open.some(isParked)) counts.parked += 1;
    else if (open.some((w) => w!.openRetry)) counts.retrying += 1;
    else if (open.length) counts.stuck += 1;
    else if (saga.status === 'COMPLETED' && refund?.status === 'COMPLETED') counts.refunded += 1;
    else if (saga.status === 'COMPLETED') counts.completed += 1;
    else if (saga.status === 'FAILED' && saga.sagaStatus === 'compensated') counts.compensated += 1;
    else counts.failed += 1;
  }
  return counts;
}
