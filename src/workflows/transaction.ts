/**
 * The frame every saga runs in: it answers the status query and the edge's attach update, keeps
 * the SagaStatus/FailedStep search attributes current, and on failure runs the compensations and
 * fails the workflow with the business reason and the final status in its details. A saga body
 * only runs its steps through `saga.run` and returns its result fields.
 */
import { ApplicationFailure, TemporalFailure, allHandlersFinished, condition, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SETTLED_STATUSES, attachUpdate, searchAttributes, transactionStatusQuery, type SagaStatus, type TransactionRequest, type TransactionStatus } from '../contracts/transaction';
import { Saga, describeFailure } from './saga';

export async function runTransaction<R extends object>(request: TransactionRequest, saga: Saga, body: () => Promise<R>): Promise<TransactionStatus & Partial<R>> {
  const { workflowId } = workflowInfo();
  let status: SagaStatus = 'running';
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
    requestId: request.requestId,
    receivedAt: request.receivedAt,
    updatedAt: new Date().toISOString(),
  });
  const setStatus = (next: SagaStatus, failedStep?: string) => {
    status = next;
    upsertSearchAttributes([{ key: searchAttributes.sagaStatus, value: next }, ...(failedStep ? [{ key: searchAttributes.failedStep, value: failedStep }] : [])]);
  };

  setHandler(transactionStatusQuery, snapshot);
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
