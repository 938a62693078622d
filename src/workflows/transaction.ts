/**
 * The frame every saga runs in: it answers the status query and the edge's attach update, keeps
 * the SagaStatus/FailedStep search attributes current, and on failure runs the compensations and
 * fails the workflow with the business reason and the final status in its details. A saga body
 * only runs its steps through `saga.run` and returns its result fields.
 */
import { ApplicationFailure, TemporalFailure, allHandlersFinished, condition, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  SETTLED_STATUSES,
  attachUpdate,
  searchAttributes,
  transactionStatusQuery,
  webhookEventSignal,
  decideUpdate,
  type OperatorDecision,
  type Parked,
  type RecordedDecision,
  type RecordedEvent,
  type SagaStatus,
  type TransactionRequest,
  type TransactionStatus,
  type WebhookEvent,
} from '../contracts/transaction';
import { Saga, describeFailure } from './saga';

export interface TransactionOptions {
  /**
   * Reacts to a verified webhook event the first time its (source, eventId) is seen; returns what
   * it did (`applied`, `ignored: …`), which is recorded for support. Duplicates are dropped here.
   */
  onEvent?: (event: WebhookEvent, status: SagaStatus) => string;
}

export async function runTransaction<R extends object>(request: TransactionRequest, saga: Saga, body: () => Promise<R>, options: TransactionOptions = {}): Promise<TransactionStatus & Partial<R>> {
  const { workflowId } = workflowInfo();
  let status: SagaStatus = 'running';
  const events: RecordedEvent[] = [];
  const seenEvents = new Set<string>();
  const decisions: RecordedDecision[] = [];
  let parked: Parked | undefined;
  let decision: OperatorDecision | undefined;
  let failure: TransactionStatus['failure'];
  let result: R | undefined;
  const snapshot = (): TransactionStatus & Partial<R> => ({
    ...(result as Partial<R>),
    workflowId,
    customerId: request.customerId,
    idempotencyKey: request.idempotencyKey,
    status,
    steps: saga.steps.map((s) => ({ ...s })),
    failure,
    ...(events.length > 0 ? { events: events.map((e) => ({ ...e })) } : {}),
    ...(parked ? { parked: { ...parked } } : {}),
    ...(decisions.length > 0 ? { decisions: decisions.map((d) => ({ ...d })) } : {}),
    requestId: request.requestId,
    receivedAt: request.receivedAt,
    updatedAt: new Date().toISOString(),
  });
  const setStatus = (next: SagaStatus, failedStep?: string) => {
    status = next;
    upsertSearchAttributes([{ key: searchAttributes.sagaStatus, value: next }, ...(failedStep ? [{ key: searchAttributes.failedStep, value: failedStep }] : [])]);
  };

  setHandler(transactionStatusQuery, snapshot);
  setHandler(webhookEventSignal, (event) => {
    const id = `${event.source}\u0000${event.eventId}`;
    if (seenEvents.has(id)) return; // a redelivery: no effect, deterministically
    seenEvents.add(id);
    const effect = options.onEvent?.(event, status) ?? 'recorded';
    events.push({ source: event.source, eventId: event.eventId, type: event.type, receivedAt: event.receivedAt, effect });
  });
  setHandler(
    attachUpdate,
    async ({ startToken, waitForOutcome }) => {
      const created = startToken === request.startToken;
      if (created && waitForOutcome) await condition(() => SETTLED_STATUSES.includes(status));
      return { created, status: snapshot() };
    },
    {
      validator: ({ idempotencyKey, fingerprint }) => {
        if (idempotencyKey !== request.idempotencyKey) {
          throw ApplicationFailure.create({ type: 'TransactionExists', message: 'Another request already owns this transaction.', nonRetryable: true });
        }
        if (fingerprint !== request.fingerprint) {
          throw ApplicationFailure.create({ type: 'IdempotencyKeyReused', message: 'This Idempotency-Key was first used with a different request body.', nonRetryable: true });
        }
      },
    },
  );

  // Park: show needs_attention (and the step) to support, wait for a decision, resume.
  saga.parker = async (step, kind, error) => {
    const before = status;
    parked = { step, kind, error, since: new Date().toISOString() };
    setStatus('needs_attention', step);
    await condition(() => decision !== undefined);
    const taken = decision!;
    decision = undefined;
    parked = undefined;
    decisions.push({ ...taken, step, at: new Date().toISOString() });
    setStatus(before);
    return taken;
  };
  setHandler(
    decideUpdate,
    (d) => {
      decision = d;
      return { accepted: true as const, step: parked!.step, action: d.action };
    },
    {
      validator: (d) => {
        if (!parked) throw ApplicationFailure.create({ type: 'NotParked', message: `Nothing is waiting for a decision; the saga is ${status}.`, nonRetryable: true });
        if (d.action !== 'retry' && !d.reason?.trim()) throw ApplicationFailure.create({ type: 'ReasonRequired', message: `A reason is required to ${d.action}.`, nonRetryable: true });
        if (!['retry', 'skip', 'abort'].includes(d.action) || !d.operator) throw ApplicationFailure.create({ type: 'InvalidDecision', message: 'action must be retry, skip or abort, with an operator.', nonRetryable: true });
      },
    },
  );

  try {
    result = await body();
    setStatus('completed');
    await condition(allHandlersFinished); // waiting callers receive the outcome before the run closes
    return snapshot();
  } catch (err) {
    // A plain Error here is a bug in our code: let it fail the workflow task so it retries once fixed.
    if (!(err instanceof TemporalFailure)) throw err;
    const step = saga.current ?? 'workflow';
    const reason = describeFailure(err);
    failure = { step, ...reason };
    setStatus('compensating', step);
    const { ran, failures: compensationFailures } = await saga.compensate();
    const undone = compensationFailures.length === 0;
    // Nothing to undo (a saga without compensations) is a plain failure, not a compensated one.
    setStatus(undone && ran > 0 ? 'compensated' : 'failed', step);
    await condition(allHandlersFinished);
    throw ApplicationFailure.create({
      type: undone ? reason.type : 'CompensationFailed',
      message: undone
        ? `Failed at ${step}: ${reason.message}`
        : `Failed at ${step} (${reason.type}) and could not be fully undone: ${compensationFailures.map((f) => `${f.compensation}: ${f.error.message}`).join('; ')}`,
      nonRetryable: true,
      details: [snapshot()],
      cause: err,
    });
  }
}
