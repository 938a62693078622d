/**
 * The edge's view of sagas in Temporal: start-or-attach by business key, wait a bounded time for
 * the outcome (a server-side long poll: no worker slot, no polling loop), and read the status of
 * any transaction, running or closed, from Temporal's history — the coordinator's only memory.
 */
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { z } from 'zod';
import { searchAttributes, transactionStatusQuery, type SagaStatus, type TransactionRequest, type TransactionStatus } from '../contracts/transaction';
import { HttpProblem } from './problem';

/** One kind of saga as the edge sees it. */
export interface SagaKind<S extends TransactionStatus> {
  workflowType: string;
  status: z.ZodType<S>;
}

export type Outcome<S extends TransactionStatus> =
  | { state: 'completed'; status: S }
  | { state: 'failed'; status: S; failureType: string }
  /** Running; `status` is missing when no worker answers queries, and then `sagaStatus` is what Temporal's index says. */
  | { state: 'running'; status?: S; sagaStatus?: SagaStatus };

/** Remembered with the workflow so that a later request with the same key can be told apart. */
interface EdgeMemo {
  idempotencyKey?: string;
  fingerprint?: string;
  startToken?: string;
}

export type Transactions = ReturnType<typeof createTransactions>;

export function createTransactions({ client, taskQueue }: { client: Client; taskQueue: string }) {
  /** Starts the saga, or attaches to the one this workflow ID already names (`attached`, and whether it is still `running`). */
  async function start<S extends TransactionStatus>(
    kind: SagaKind<S>,
    workflowId: string,
    input: TransactionRequest,
    extraSearchAttributes: SearchAttributePair[] = [],
  ): Promise<{ handle: WorkflowHandle; attached: boolean; running: boolean }> {
    let handle: WorkflowHandle;
    try {
      handle = await client.workflow.start(kind.workflowType, {
        taskQueue,
        workflowId,
        args: [input],
        // A retry of a running transaction attaches to it; a finished one is never started again.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { idempotencyKey: input.idempotencyKey, fingerprint: input.fingerprint, startToken: input.startToken } satisfies EdgeMemo,
        typedSearchAttributes: [{ key: searchAttributes.customerId, value: input.customerId }, { key: searchAttributes.sagaStatus, value: 'running' }, ...extraSearchAttributes],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = client.workflow.getHandle(workflowId);
    }
    const description = await handle.describe();
    const memo = (description.memo ?? {}) as EdgeMemo;
    if (memo.idempotencyKey !== input.idempotencyKey) {
      throw new HttpProblem(409, 'transaction-exists', 'Already requested', 'Another request (with another Idempotency-Key) already started this transaction; follow Location for its status.');
    }
    if (memo.fingerprint !== input.fingerprint) {
      throw new HttpProblem(422, 'idempotency-key-reused', 'Idempotency-Key already used for another request', 'This Idempotency-Key was first used with a different request body. Use a new key for a new request.');
    }
    return { handle, attached: memo.startToken !== input.startToken, running: description.status.name === 'RUNNING' };
  }

  /** Waits up to `ms` (or until `until` aborts, e.g. the caller hung up) for the saga to finish; `running` when the wait ends first. */
  async function waitForOutcome<S extends TransactionStatus>(kind: SagaKind<S>, handle: WorkflowHandle, ms: number, until?: AbortSignal): Promise<Outcome<S>> {
    if (ms <= 0) return { state: 'running' };
    const signal = until ? AbortSignal.any([AbortSignal.timeout(ms), until]) : AbortSignal.timeout(ms);
    try {
      const status = await client.withAbortSignal(signal, () => handle.result());
      return { state: 'completed', status: kind.status.parse(status) };
    } catch (err) {
      if (err instanceof WorkflowFailedError) return failedOutcome(kind, handle.workflowId, err);
      if (signal.aborted) return { state: 'running' };
      throw err;
    }
  }

  /** The transaction behind a workflow ID, or undefined when it was never received. */
  async function status<S extends TransactionStatus>(kind: SagaKind<S>, workflowId: string): Promise<Outcome<S> | undefined> {
    const handle = client.workflow.getHandle(workflowId);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    if (description.status.name !== 'RUNNING') return waitForOutcome(kind, handle, 10_000);
    const pending = pendingSteps(description.raw.pendingActivities ?? []);
    try {
      const live = kind.status.parse(await client.withDeadline(Date.now() + 2_000, () => handle.query(transactionStatusQuery)));
      return { state: 'running', status: { ...live, steps: live.steps.map((s) => ({ ...s, ...pending.get(s.name) })) } };
    } catch {
      // No worker is answering queries right now: what Temporal itself knows is still worth showing.
      const saga = description.searchAttributes?.SagaStatus?.[0] as SagaStatus | undefined;
      return { state: 'running', sagaStatus: saga ?? 'running' };
    }
  }

  /**
   * How long Temporal keeps a closed transaction, and so how long its key is remembered: the
   * namespace's retention. Read once and refreshed hourly; undefined when Temporal does not say.
   */
  let retention: { seconds?: number; readAt: number } | undefined;
  async function keyRetentionSeconds(): Promise<number | undefined> {
    if (!retention || Date.now() - retention.readAt > 3_600_000) {
      const ns = await client.workflowService.describeNamespace({ namespace: client.options.namespace }).catch(() => undefined);
      const ttl = Number(ns?.config?.workflowExecutionRetentionTtl?.seconds ?? 0);
      retention = { seconds: ttl > 0 ? ttl : undefined, readAt: Date.now() };
    }
    return retention.seconds;
  }

  return { start, waitForOutcome, status, keyRetentionSeconds };
}

/** Live retry state of running activities, by the step (activity type) they belong to. */
function pendingSteps(pending: { activityType?: { name?: string | null } | null; attempt?: number | null; lastFailure?: { message?: string | null } | null; nextAttemptScheduleTime?: { seconds?: unknown } | null }[]) {
  const byStep = new Map<string, { attempt?: number; lastFailure?: string; nextAttemptAt?: string }>();
  for (const a of pending) {
    const name = a.activityType?.name;
    if (!name) continue;
    const seconds = Number(a.nextAttemptScheduleTime?.seconds ?? 0);
    byStep.set(name, {
      attempt: a.attempt ?? undefined,
      lastFailure: a.lastFailure?.message ?? undefined,
      nextAttemptAt: seconds > 0 ? new Date(seconds * 1000).toISOString() : undefined,
    });
  }
  return byStep;
}

/** A failed saga carries its final status in the ApplicationFailure's details. */
function failedOutcome<S extends TransactionStatus>(kind: SagaKind<S>, workflowId: string, err: WorkflowFailedError): Outcome<S> {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    const details = kind.status.safeParse(cause.details?.[0]);
    if (details.success) return { state: 'failed', status: details.data, failureType: cause.type ?? 'Failed' };
  }
  // Terminated, timed out or cancelled by an operator: no saga summary, but still a definite answer.
  const type = cause?.name ?? 'WorkflowFailed';
  const status = {
    workflowId,
    customerId: '',
    idempotencyKey: '',
    status: 'failed',
    steps: [],
    failure: { step: 'workflow', type, message: cause?.message ?? err.message },
    requestId: '',
    receivedAt: '',
    updatedAt: new Date().toISOString(),
  } as TransactionStatus as S;
  return { state: 'failed', failureType: type, status };
}
