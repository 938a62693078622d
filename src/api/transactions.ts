/**
 * The edge's view of sagas in Temporal: start-or-attach by business key, wait a bounded time for
 * the outcome (a server-side long poll: no worker slot, no polling loop), and read the status of
 * any transaction, running or closed, from Temporal's history — the coordinator's only memory.
 * Every call to Temporal has a deadline: when Temporal is slow or gone, the edge answers 503 with
 * Retry-After within seconds, and says truthfully whether the request was recorded.
 */
import {
  ApplicationFailure,
  QueryRejectedError,
  WorkflowClient,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { z } from 'zod';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { TransactionStatus, keysOfTransaction, searchAttributes, transactionStatusQuery, type SagaStatus, type TaskQueues, type TransactionRequest } from '../contracts/transaction';
import { HttpProblem } from './problem';
import { announceSagaStarted, heldEventsFor } from './webhook-intake';

/** Deadlines of the edge's calls to Temporal: a start (and its describe), and a read. */
export const TEMPORAL_DEADLINES = { startMs: 5_000, readMs: 3_000, queryMs: 2_000 } as const;
const RETRY_AFTER_SECONDS = '2';

/**
 * Temporal did not answer a start in time, or failed it: the start may or may not have been
 * recorded (a lost answer looks the same as a lost request), so say exactly that.
 */
export function notConfirmed(location: string): HttpProblem {
  return new HttpProblem(
    503,
    'coordinator-unavailable',
    'Coordinator temporarily unavailable',
    'The coordinator could not confirm that it recorded this request: it may or may not have. Retry with the same Idempotency-Key (safe: a recorded request is never done twice), or look the key up at Location.',
    { location },
    { 'Retry-After': RETRY_AFTER_SECONDS, Location: location },
  );
}

/** A command that could not be started because what it depends on could not be read in time: nothing was recorded. */
export function notRecorded(location: string): HttpProblem {
  return new HttpProblem(
    503,
    'coordinator-unavailable',
    'Coordinator temporarily unavailable',
    'What this request depends on could not be read in time, so nothing was recorded. Retry with the same Idempotency-Key; Location is where its outcome will be.',
    { location },
    { 'Retry-After': RETRY_AFTER_SECONDS, Location: location },
  );
}

/** The request was recorded (its saga exists), but its outcome could not be read in time. */
export function outcomeUnavailable(location: string): HttpProblem {
  return new HttpProblem(
    503,
    'outcome-unavailable',
    'Recorded; outcome not available right now',
    'Your request was received and recorded, and is being processed; its outcome could not be read just now. Look it up at Location, or retry with the same Idempotency-Key: it returns this transaction, never a new one.',
    { location },
    { 'Retry-After': RETRY_AFTER_SECONDS, Location: location },
  );
}

/** A read (status, lookup) that Temporal did not answer in time: nothing changed, try again. */
export function readUnavailable(): HttpProblem {
  return new HttpProblem(503, 'coordinator-unavailable', 'Coordinator temporarily unavailable', 'The transaction store did not answer in time; nothing was changed. Try again shortly.', {}, { 'Retry-After': RETRY_AFTER_SECONDS });
}

/** Temporal's default limit on a workflow ID (dynamic config limit.maxIDLength), in bytes. */
export const MAX_ID_BYTES = 1000;
function recordableId(workflowId: string): boolean {
  return Buffer.byteLength(workflowId, 'utf8') <= MAX_ID_BYTES;
}

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
  /** The Idempotency-Key of the support replay that started this run, if one did. */
  replayKey?: string;
  /** Every support replay of this transaction so far, oldest first: a key is answered with its own replay for good, not only until the next. */
  replays?: ReplayRecord[];
}

interface ReplayRecord {
  key: string;
  attempt: number;
  /** Unknown for a replay made before the list was kept. */
  reason?: string;
  operator?: string;
  /** The run it started, once known (filled in by the next replay). */
  runId?: string;
}

export type Transactions = ReturnType<typeof createTransactions>;

export function createTransactions({ client, queues, fastPath = true }: { client: Client; queues: TaskQueues; fastPath?: boolean }) {
  const taskQueue = queues.orders;
  // Every saga is told where its activities run, instead of deriving it from its own queue's name.
  const activityQueues = { legacyEcommerce: queues.legacyEcommerce, payments: queues.payments, fulfilment: queues.fulfilment };
  const within = <T>(ms: number, fn: () => Promise<T>): Promise<T> => client.withDeadline(Date.now() + ms, fn);
  // Status queries that the server refuses by itself for a closed workflow, instead of waking a worker to replay it.
  const openOnly = new WorkflowClient({ connection: client.connection, namespace: client.options.namespace, dataConverter: client.options.dataConverter, queryRejectCondition: 'NOT_OPEN' });

  /** Starts the saga, or attaches to the one this workflow ID already names (`attached`, and whether it is still `running`). */
  async function start<S extends TransactionStatus>(
    kind: SagaKind<S>,
    workflowId: string,
    input: TransactionRequest,
    location: string,
    extraSearchAttributes: SearchAttributePair[] = [],
  ): Promise<{ handle: WorkflowHandle; attached: boolean; running: boolean }> {
    let handle: WorkflowHandle;
    if (!recordableId(workflowId)) {
      // Nothing is recorded, and the same request would be refused again: a client error, not "retry".
      throw new HttpProblem(400, 'idempotency-key-invalid', 'Invalid Idempotency-Key', `This Idempotency-Key cannot be recorded together with your identity: the identifier they make (percent-encoded) is over the ${MAX_ID_BYTES} bytes Temporal accepts. Nothing was recorded; use a shorter key.`);
    }
    // Webhook events that came before the saga existed go in its start: it has them before its
    // first step, however fast it finishes (a signal from their holder could come too late).
    const earlyEvents = await heldEventsFor(openOnly, workflowId, TEMPORAL_DEADLINES.queryMs);
    try {
      handle = await within(TEMPORAL_DEADLINES.startMs, () => client.workflow.start(kind.workflowType, {
        taskQueue,
        workflowId,
        args: [{ ...input, taskQueues: input.taskQueues ?? activityQueues, fastPath: input.fastPath ?? fastPath, ...(earlyEvents.length > 0 ? { earlyEvents } : {}) }],
        // One that exists, running or finished, is never started again: the request is found below.
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { idempotencyKey: input.idempotencyKey, fingerprint: input.fingerprint, startToken: input.startToken } satisfies EdgeMemo,
        typedSearchAttributes: [{ key: searchAttributes.customerId, value: input.customerId }, { key: searchAttributes.sagaStatus, value: 'running' }, ...extraSearchAttributes],
      }));
      // Started by this request: nothing to compare (a retry of our own lost start is told by its token below).
      announceSagaStarted(client, workflowId, earlyEvents); // the holder signals any event that came since, or records it as late
      return { handle, attached: false, running: true };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw notConfirmed(location);
      handle = client.workflow.getHandle(workflowId);
    }
    // It exists: a retry (attach to it), our own start whose first answer was lost, or a conflict.
    let description;
    try {
      description = await within(TEMPORAL_DEADLINES.readMs, () => handle.describe());
    } catch {
      // The saga exists (started, or found running): it is recorded, whatever happens next.
      throw outcomeUnavailable(location);
    }
    const memo = (description.memo ?? {}) as EdgeMemo;
    if (memo.idempotencyKey !== input.idempotencyKey) {
      throw new HttpProblem(409, 'transaction-exists', 'Already requested', 'Another request (with another Idempotency-Key) already started this transaction; follow Location for its status.', { location }, { Location: location });
    }
    if (memo.fingerprint !== input.fingerprint) {
      throw new HttpProblem(422, 'idempotency-key-reused', 'Idempotency-Key already used for another request', 'This Idempotency-Key was first used with a different request body. Use a new key for a new request.');
    }
    const attached = memo.startToken !== input.startToken;
    if (!attached) announceSagaStarted(client, workflowId, earlyEvents); // the holder signals any event that came since, or records it as late
    return { handle, attached, running: description.status.name === 'RUNNING' };
  }

  /** Waits up to `ms` (or until `until` aborts, e.g. the caller hung up) for the saga to finish; `running` when the wait ends first. */
  async function waitForOutcome<S extends TransactionStatus>(kind: SagaKind<S>, handle: WorkflowHandle, ms: number, until?: AbortSignal): Promise<Outcome<S>> {
    if (ms <= 0) return { state: 'running' };
    // One controller per wait, its timer and its link to `until` both removed when the wait ends. Not
    // AbortSignal.any([AbortSignal.timeout(ms), until]): on Node 20 every such signal that gets a
    // listener stays reachable for ever (nodejs/node#54614), and with it each wait's gRPC call: the
    // API grew by ~70 MB per 1,000 orders (docs/benchmarks.md, Memory).
    const wait = new AbortController();
    const timer = setTimeout(() => wait.abort(), ms);
    const stop = () => wait.abort();
    until?.addEventListener('abort', stop, { once: true });
    if (until?.aborted) wait.abort();
    // The wait ends when it runs out, whatever the long poll does: after Temporal restarts, a result()
    // whose connection broke and came back can miss its abort and never settle (the caller got nothing).
    const ended = new Promise<never>((_, reject) => wait.signal.addEventListener('abort', () => reject(new Error('wait ended')), { once: true }));
    ended.catch(() => undefined);
    try {
      if (wait.signal.aborted) return { state: 'running' }; // the caller had gone already
      const result = client.withAbortSignal(wait.signal, () => handle.result());
      result.catch(() => undefined); // settles (or not) after the wait ended: nobody listens then
      const status = await Promise.race([result, ended]);
      return { state: 'completed', status: kind.status.parse(status) };
    } catch (err) {
      if (err instanceof WorkflowFailedError) return failedOutcome(kind, handle.workflowId, err);
      if (wait.signal.aborted) return { state: 'running' };
      throw err; // the caller knows whether the request was recorded, and says so
    } finally {
      clearTimeout(timer);
      until?.removeEventListener('abort', stop);
    }
  }

  /**
   * The transaction behind a workflow ID, or undefined when it was never received. Three calls go
   * out at once, so a read costs about one round trip: describe (does it exist, is it running, its
   * live retry state), the status query (answered by a worker while it runs; refused by the server
   * at once, without a worker, when it has closed) and the result (returned at once when closed).
   * A closed transaction is answered as soon as its result is there, without waiting for describe.
   */
  async function status<S extends TransactionStatus>(kind: SagaKind<S>, workflowId: string): Promise<Outcome<S> | undefined> {
    // An ID Temporal would refuse (over its length limit) names nothing that can ever have been received.
    if (!recordableId(workflowId)) return undefined;
    const handle = client.workflow.getHandle(workflowId);
    const settle = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error }));
    const stopWaiting = new AbortController();
    const described = settle(within(TEMPORAL_DEADLINES.readMs, () => handle.describe()));
    const queried = settle(within(TEMPORAL_DEADLINES.queryMs, () => openOnly.getHandle(workflowId).query(transactionStatusQuery)));
    const closed = settle(waitForOutcome(kind, handle, TEMPORAL_DEADLINES.readMs, stopWaiting.signal));
    // The result of a closed run is all there is to say about it (the other two calls end by themselves).
    const settled = await Promise.race([closed.then((c) => ('value' in c && c.value.state !== 'running' ? c.value : undefined)), described.then(() => undefined)]);
    if (settled) return settled;
    const d = await described;
    if ('error' in d) {
      stopWaiting.abort();
      if (d.error instanceof WorkflowNotFoundError) return undefined;
      throw readUnavailable();
    }
    const description = d.value;
    const outcome = async () => {
      const c = await closed;
      // A closed run answers at once; no answer in time is Temporal being unwell, not the saga running.
      if ('error' in c || c.value.state === 'running') throw readUnavailable();
      return c.value;
    };
    if (description.status.name !== 'RUNNING') return outcome();
    stopWaiting.abort();
    const q = await queried;
    if ('value' in q) {
      const pending = pendingSteps(description.raw.pendingActivities ?? []);
      const live = kind.status.parse(q.value);
      // A step being undone shows its compensation's live retry state (its activity is the compensation).
      return { state: 'running', status: { ...live, steps: live.steps.map((s) => ({ ...s, ...pending.get(s.state === 'compensating' && s.compensation ? s.compensation : s.name) })) } };
    }
    // It closed between the two calls: its outcome is there now.
    if (q.error instanceof QueryRejectedError) return waitForOutcome(kind, handle, TEMPORAL_DEADLINES.readMs).catch(() => Promise.reject(readUnavailable()));
    // No worker is answering queries right now: what Temporal itself knows is still worth showing.
    const saga = description.searchAttributes?.SagaStatus?.[0] as SagaStatus | undefined;
    return { state: 'running', sagaStatus: saga ?? 'running' };
  }

  /**
   * How long Temporal keeps a closed transaction, and so how long its key is remembered: the
   * namespace's retention. Read once and refreshed hourly; undefined when Temporal does not say.
   */
  let retention: { seconds?: number; readAt: number } | undefined;
  let lastFailedAt = 0;
  async function keyRetentionSeconds(): Promise<number | undefined> {
    // A failed read is retried at most every 10 s, so an outage does not slow every answer down.
    if ((!retention || Date.now() - retention.readAt > 3_600_000) && Date.now() - lastFailedAt > 10_000) {
      const ns = await within(TEMPORAL_DEADLINES.queryMs, () => client.workflowService.describeNamespace({ namespace: client.options.namespace })).catch(() => undefined);
      if (!ns) lastFailedAt = Date.now();
      else {
        const ttl = Number(ns.config?.workflowExecutionRetentionTtl?.seconds ?? 0);
        retention = { seconds: ttl > 0 ? ttl : undefined, readAt: Date.now() };
      }
    }
    return retention?.seconds;
  }

  /**
   * Support's replay: the business transaction again, safely (README, support runbook). Allowed only
   * where a new attempt cannot put money and access out of step — a compensated transaction, or a
   * failed one in which nothing had happened — and then started as a new run of the same workflow
   * ID with attempt n + 1: new keys, a new reference, the earlier attempt's records untouched.
   * Refused, with what to do instead, for every other state. Idempotent per replay key: the same
   * key again answers the run it started.
   */
  async function replay(workflowId: string, replayOf: { operator: string; reason: string; key: string }): Promise<{ runId: string; attempt: number; replayed: boolean; by?: { operator: string; reason: string } }> {
    const handle = client.workflow.getHandle(workflowId);
    let description: WorkflowExecutionDescription;
    try {
      description = await within(TEMPORAL_DEADLINES.readMs, () => handle.describe());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || !recordableId(workflowId)) throw new HttpProblem(404, 'not-found', 'No such transaction', `No transaction ${workflowId}.`);
      throw readUnavailable();
    }
    const memo = (description.memo ?? {}) as EdgeMemo;
    const sameReplay = () => ({ runId: description.runId, attempt: Number((description.memo as { attempt?: unknown })?.attempt ?? 0), replayed: true });
    // Runs started before the list was kept remember only their own key.
    const replays: ReplayRecord[] = memo.replays ?? (memo.replayKey ? [{ key: memo.replayKey, attempt: Number((memo as { attempt?: unknown }).attempt ?? 0) }] : []);
    const earlier = replays.find((r) => r.key === replayOf.key);
    if (earlier) {
      if (earlier.reason !== undefined && earlier.reason !== replayOf.reason) {
        throw new HttpProblem(422, 'idempotency-key-reused', 'Idempotency-Key already used for another request', 'This Idempotency-Key was first used for a replay with another reason. Use a new key for a new replay.');
      }
      const by = earlier.reason !== undefined && earlier.operator !== undefined ? { operator: earlier.operator, reason: earlier.reason } : undefined;
      return earlier.key === memo.replayKey ? { ...sameReplay(), by } : { runId: earlier.runId ?? description.runId, attempt: earlier.attempt, replayed: true, by };
    }
    const sagaStatus = description.searchAttributes?.SagaStatus?.[0] as SagaStatus | undefined;
    if (description.status.name === 'RUNNING') throw notReplayable(workflowId, runningAdvice(sagaStatus));
    const outcome = await waitForOutcome({ workflowType: description.type, status: TransactionStatusLoose }, handle, TEMPORAL_DEADLINES.readMs).catch(() => undefined);
    if (!outcome || outcome.state === 'running') throw readUnavailable();
    const refusal = replayRefusal(outcome);
    if (refusal) throw notReplayable(workflowId, refusal);

    const history = await within(TEMPORAL_DEADLINES.readMs, () => handle.fetchHistory()).catch(() => Promise.reject(readUnavailable()));
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const input = (await decodeFromPayloadsAtIndex(client.options.loadedDataConverter, 0, started?.input?.payloads)) as TransactionRequest;
    const attempt = (outcome.status.attempt ?? input.attempt ?? 1) + 1;
    const next: TransactionRequest = { ...input, taskQueues: input.taskQueues ?? activityQueues, attempt, replay: { ...replayOf, previousRunId: description.runId }, earlyEvents: undefined };
    try {
      const replayed = await within(TEMPORAL_DEADLINES.startMs, () =>
        client.workflow.start(description.type, {
          taskQueue: description.taskQueue,
          workflowId,
          args: [next],
          // Only after the earlier run closed, and never two at once.
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          workflowIdConflictPolicy: 'FAIL',
          // The customer's key and body stay: their retries still attach to this transaction.
          memo: {
            ...memo,
            replayKey: replayOf.key,
            attempt,
            replays: [...replays.map((r) => (r.key === memo.replayKey ? { ...r, runId: description.runId } : r)), { key: replayOf.key, attempt, reason: replayOf.reason, operator: replayOf.operator }],
          },
          typedSearchAttributes: [
            { key: searchAttributes.customerId, value: input.customerId },
            { key: searchAttributes.sagaStatus, value: 'running' },
            ...(description.searchAttributes?.OrderKey?.[0] ? [{ key: searchAttributes.orderKey, value: String(description.searchAttributes.OrderKey[0]) }] : []),
          ],
        }),
      );
      announceSagaStarted(client, workflowId);
      return { runId: replayed.firstExecutionRunId, attempt, replayed: false };
    } catch (err) {
      // Not answered: the new attempt may or may not have started (the same replay key finds it if it did).
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err instanceof HttpProblem ? err : notConfirmed(`/v1/admin/transactions/${encodeURIComponent(workflowId)}`);
      // Someone replayed it at the same moment: the same key is this request again, another is a conflict.
      description = await within(TEMPORAL_DEADLINES.readMs, () => handle.describe()).catch(() => Promise.reject(readUnavailable()));
      if ((description.memo as EdgeMemo | undefined)?.replayKey === replayOf.key) return sameReplay();
      throw notReplayable(workflowId, 'Another replay of it has just started; follow its status.');
    }
  }

  return { start, waitForOutcome, status, replay, keyRetentionSeconds };
}

const TransactionStatusLoose = TransactionStatus.loose();

function notReplayable(workflowId: string, detail: string): HttpProblem {
  return new HttpProblem(409, 'not-resettable', 'This transaction cannot be replayed now', detail, { transactionId: workflowId });
}

function runningAdvice(sagaStatus?: SagaStatus): string {
  if (sagaStatus === 'needs_attention') return 'It is parked waiting for a decision: decide instead (retry, skip or abort) with POST …/decisions.';
  if (sagaStatus === 'compensating') return 'It is undoing its steps right now: wait for it to finish, then replay it if it ends compensated.';
  return 'It is still running: a replay now would race it. Wait for it to settle.';
}

/** Why a settled transaction must not be replayed, or undefined when a new attempt is safe. */
function replayRefusal(outcome: Exclude<Outcome<TransactionStatus>, { state: 'running' }>): string | undefined {
  const { status } = outcome;
  if (outcome.state === 'completed') return 'It completed: a replay would change nothing (every step would find its effect), or charge again. To undo it, request a refund.';
  if (status.status === 'compensated') return undefined;
  if (status.steps.length === 0) {
    return `It ended outside the saga (${outcome.failureType}), so what its steps did is unknown: check the downstreams and put them right by hand, then place a new order.`;
  }
  const leftUndone = status.steps.filter((s) => s.state === 'compensation_failed').map((s) => s.compensation ?? s.name);
  if (leftUndone.length > 0) {
    return `Its undo did not finish (${leftUndone.join(', ')} left undone): a new attempt would leave the earlier one half undone. Put those right by hand first; then place a new order.`;
  }
  const happened = status.steps.filter((s) => s.state !== 'pending' && s.state !== 'failed').map((s) => s.name);
  return happened.length > 0 ? `It failed after ${happened.join(', ')} and was not compensated: check the downstreams first.` : undefined;
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

const ENDED_OUTSIDE_THE_SAGA = 'The transaction was stopped before it finished (by support or a timeout), outside its own steps: support is checking what its steps did.';

/** A failed saga carries its final status in the ApplicationFailure's details. */
function failedOutcome<S extends TransactionStatus>(kind: SagaKind<S>, workflowId: string, err: WorkflowFailedError): Outcome<S> {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    const details = kind.status.safeParse(cause.details?.[0]);
    if (details.success) return { state: 'failed', status: details.data, failureType: cause.type ?? 'Failed' };
  }
  // Terminated, timed out or cancelled by an operator: no saga summary, but still a definite answer.
  // Not the operator's own words (a terminate reason is written for support, not for the customer).
  const type = cause?.name ?? 'WorkflowFailed';
  // Who and which request it was is in its workflow ID (an order's key; a refund's own key is not).
  const { customerId = '', key = '' } = keysOfTransaction(workflowId);
  const status = {
    workflowId,
    customerId,
    idempotencyKey: workflowId.startsWith('order:') ? key : '',
    status: 'failed',
    steps: [],
    failure: { step: 'workflow', type, message: ENDED_OUTSIDE_THE_SAGA },
    requestId: '',
    receivedAt: '',
    updatedAt: new Date().toISOString(),
  } as TransactionStatus as S;
  return { state: 'failed', failureType: type, status };
}
