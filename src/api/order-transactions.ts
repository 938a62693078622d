/**
 * The edge's view of order sagas in Temporal: start-or-attach by business key, wait a bounded time
 * for the outcome (a server-side long poll: no worker slot, no polling loop), and read the status
 * of any transaction, running or closed, from Temporal's history — the coordinator's only memory.
 */
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { OrderStatus, orderStatusQuery, orderWorkflowId, searchAttributes, type OrderSagaInput } from '../contracts/order';
import type { orderSaga } from '../workflows/order';
import { HttpProblem } from './problem';

export type Outcome =
  | { state: 'completed'; status: OrderStatus }
  | { state: 'failed'; status: OrderStatus; failureType: string }
  | { state: 'running'; status?: OrderStatus };

export type OrderHandle = WorkflowHandle<typeof orderSaga>;

interface EdgeMemo {
  fingerprint?: string;
  startToken?: string;
}

export type OrderTransactions = ReturnType<typeof createOrderTransactions>;

export function createOrderTransactions({ client, taskQueue }: { client: Client; taskQueue: string }) {
  /** Starts the saga, or attaches to the one this key already started (`attached`, and whether it is still `running`). */
  async function start(input: OrderSagaInput): Promise<{ handle: OrderHandle; attached: boolean; running: boolean }> {
    const workflowId = orderWorkflowId(input.customerId, input.idempotencyKey);
    const { startToken } = input;
    let handle: OrderHandle;
    try {
      handle = await client.workflow.start<typeof orderSaga>('orderSaga', {
        taskQueue,
        workflowId,
        args: [input],
        // A retry of a running transaction attaches to it; a finished one is never started again.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { fingerprint: input.fingerprint, startToken } satisfies EdgeMemo,
        typedSearchAttributes: [
          { key: searchAttributes.customerId, value: input.customerId },
          { key: searchAttributes.orderKey, value: input.idempotencyKey },
          { key: searchAttributes.sagaStatus, value: 'running' },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = client.workflow.getHandle<typeof orderSaga>(workflowId);
    }
    const description = await handle.describe();
    const memo = (description.memo ?? {}) as EdgeMemo;
    if (memo.fingerprint !== input.fingerprint) {
      throw new HttpProblem(
        422,
        'idempotency-key-reused',
        'Idempotency-Key already used for another request',
        'This Idempotency-Key was first used with a different request body. Use a new key for a new request.',
      );
    }
    return { handle, attached: memo.startToken !== startToken, running: description.status.name === 'RUNNING' };
  }

  /** Waits up to `ms` for the saga to finish; `running` when the wait runs out first. */
  async function waitForOutcome(handle: OrderHandle, ms: number): Promise<Outcome> {
    if (ms <= 0) return { state: 'running' };
    const signal = AbortSignal.timeout(ms);
    try {
      const status = await client.withAbortSignal(signal, () => handle.result());
      return { state: 'completed', status: OrderStatus.parse(status) };
    } catch (err) {
      if (err instanceof WorkflowFailedError) return failedOutcome(handle.workflowId, err);
      if (signal.aborted) return { state: 'running' };
      throw err;
    }
  }

  /** The transaction behind (customer, key), or undefined when it was never received. */
  async function status(customerId: string, idempotencyKey: string): Promise<Outcome | undefined> {
    const handle = client.workflow.getHandle<typeof orderSaga>(orderWorkflowId(customerId, idempotencyKey));
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    if (description.status.name !== 'RUNNING') return waitForOutcome(handle, 10_000);
    try {
      const live = await client.withDeadline(Date.now() + 3_000, () => handle.query(orderStatusQuery));
      return { state: 'running', status: OrderStatus.parse(live) };
    } catch {
      // No worker is answering queries right now; the transaction is still known to be running.
      return { state: 'running' };
    }
  }

  return { start, waitForOutcome, status };
}

/** A failed saga carries its final status in the ApplicationFailure's details. */
function failedOutcome(workflowId: string, err: WorkflowFailedError): Outcome {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    const details = OrderStatus.safeParse(cause.details?.[0]);
    if (details.success) return { state: 'failed', status: details.data, failureType: cause.type ?? 'OrderFailed' };
  }
  // Terminated, timed out or cancelled by an operator: no saga summary, but still a definite answer.
  const type = cause?.name ?? 'WorkflowFailed';
  return {
    state: 'failed',
    failureType: type,
    status: {
      workflowId,
      customerId: '',
      idempotencyKey: '',
      status: 'failed',
      steps: [],
      failure: { step: 'workflow', type, message: cause?.message ?? err.message },
      requestId: '',
      receivedAt: '',
      updatedAt: new Date().toISOString(),
    },
  };
}
