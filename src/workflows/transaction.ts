/**
 * The frame every saga runs in: it answers the status query, takes webhook events and operators'
 * decisions, keeps the SagaStatus/FailedStep search attributes current, and runs the saga's body:
 * on failure it runs the compensations and fails the workflow with the business reason and the
 * final status in its details; when a step finds its attempt already undone (a reset or replay of
 * a compensated run), it finishes that undo and runs the body again as a new attempt. A saga body
 * only runs its steps through `saga.run` and returns its result fields.
 *
 * Read it as: the state (one object), the handlers that read or change it, parking, then the flow.
 */
import { ApplicationFailure, CancellationScope, CancelledFailure, TemporalFailure, allHandlersFinished, condition, getExternalWorkflowHandle, patched, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { OperatorDecision, Parked, RecordedDecision, RecordedEvent, SagaStatus, TransactionRequest, TransactionStatus, WebhookEvent } from '../contracts/transaction';
import { ATTEMPT_UNDONE, DECISION_LIMITS, decideUpdate, heldEventsWorkflowId, sagaStarted, sagaStartedSignal, searchAttributes, transactionStatusQuery, webhookEventKey, webhookEventSignal } from '../contracts/transaction-protocol';
import { CHECK_FAILED, Saga, describeFailure, endedUnanswered, failureType } from './saga';

export interface TransactionOptions {
  /**
   * Reacts to a verified webhook event the first time its (source, eventId) is seen; returns what
   * it did (`applied`, `ignored: …`), which is recorded for support. Duplicates are dropped here.
   */
  /** Acts on a webhook event; answers what it did, recorded with it (`amend` changes that record later: an outcome found untrue). */
  onEvent?: (event: WebhookEvent, status: SagaStatus, amend: (effect: string) => void) => string;
}

/** Everything the frame knows about its transaction besides the saga's steps. */
interface TransactionState {
  status: SagaStatus;
  events: RecordedEvent[];
  seenEvents: Set<string>;
  decisions: RecordedDecision[];
  parked?: Parked;
  /** A decision taken by the update handler and not yet applied by the parked step. */
  pendingDecision?: OperatorDecision;
  failure?: TransactionStatus['failure'];
  undoneAttempts: NonNullable<TransactionStatus['undoneAttempts']>;
  cancelRefused?: TransactionStatus['cancelRefused'];
  /** An operator's Cancel was judged (acted on, refused, or left for the saga's next wait): a next attempt does not judge it again. */
  cancelJudged?: boolean;
}

interface Frame {
  request: TransactionRequest;
  saga: Saga;
  state: TransactionState;
  setStatus(next: SagaStatus, failedStep?: string | null): void;
  snapshot(): TransactionStatus;
}

export async function runTransaction<R extends object>(request: TransactionRequest, saga: Saga, body: () => Promise<R>, options: TransactionOptions = {}): Promise<TransactionStatus & Partial<R>> {
  const state: TransactionState = { status: 'running', events: [], seenEvents: new Set(), decisions: [], undoneAttempts: [] };
  let result: R | undefined;
  const frame: Frame = {
    request,
    saga,
    state,
    setStatus(next, failedStep) {
      state.status = next;
      upsertSearchAttributes([{ key: searchAttributes.sagaStatus, value: next }, ...(failedStep !== undefined ? [{ key: searchAttributes.failedStep, value: failedStep }] : [])]);
    },
    snapshot: () => ({ ...(result as Partial<R>), ...statusOf(frame) }),
  };
  setHandler(transactionStatusQuery, frame.snapshot);
  setHandler(webhookEventSignal, (event) => takeEvent(frame, event, options));
  if (request.earlyEvents?.length) takeEarlyEvents(frame, request.earlyEvents, options);
  registerDecisions(frame);
  saga.parker = parker(frame);

  await flow(frame, body, (r) => (result = r));
  return frame.snapshot() as TransactionStatus & Partial<R>;
}

function statusOf({ request, saga, state }: Frame): TransactionStatus {
  return {
    workflowId: workflowInfo().workflowId,
    customerId: request.customerId,
    idempotencyKey: request.idempotencyKey,
    status: state.status,
    attempt: saga.attempt,
    reference: saga.reference,
    ...(state.undoneAttempts.length > 0 ? { undoneAttempts: state.undoneAttempts.map((a) => ({ ...a })) } : {}),
    ...(request.replay ? { replay: { ...request.replay } } : {}),
    steps: saga.steps.map((s) => ({ ...s })),
    failure: state.failure,
    ...(state.events.length > 0 ? { events: state.events.map((e) => ({ ...e })) } : {}),
    ...(state.parked ? { parked: { ...state.parked } } : {}),
    ...(state.decisions.length > 0 ? { decisions: state.decisions.map((d) => ({ ...d })) } : {}),
    ...(state.cancelRefused ? { cancelRefused: { ...state.cancelRefused } } : {}),
    requestId: request.requestId,
    receivedAt: request.receivedAt,
    updatedAt: new Date().toISOString(),
  };
}

/**
 * Webhook events held before the saga existed, handed over in its start: taken before the first
 * step, and their holder told which (durably: the edge tells it too, but may crash first), so it
 * never signals them again nor keeps them as undelivered.
 */
function takeEarlyEvents(frame: Frame, events: WebhookEvent[], options: TransactionOptions): void {
  for (const event of events) takeEvent(frame, event, options);
  getExternalWorkflowHandle(heldEventsWorkflowId(workflowInfo().workflowId))
    .signal(sagaStartedSignal, sagaStarted(events))
    .catch(() => undefined); // its hold may have ended: nothing left to tell
}

/** A verified webhook event: acted on the first time its (source, eventId) is seen, recorded either way. */
function takeEvent({ state }: Frame, event: WebhookEvent, options: TransactionOptions): void {
  const id = webhookEventKey(event);
  if (state.seenEvents.has(id)) return; // a redelivery: no effect, deterministically
  state.seenEvents.add(id);
  const record = { source: event.source, eventId: event.eventId, type: event.type, receivedAt: event.receivedAt, effect: 'recorded' };
  record.effect = options.onEvent?.(event, state.status, (effect) => void (record.effect = effect)) ?? 'recorded';
  state.events.push(record);
}

/**
 * The operator's `decide` update. One decision at a time: the validator refuses a decision while
 * nothing is parked or while another is still being applied, so two at once give one applied and
 * one rejected, never one silently lost. The update answers once its decision is applied.
 */
function registerDecisions({ state, saga }: Frame): void {
  setHandler(
    decideUpdate,
    async (d) => {
      const step = state.parked!.step;
      state.pendingDecision = d;
      // The parked step takes it. (Histories from before epochs answered at once: keep replaying them so.)
      // Not cancellable: after an operator's Cancel the decision is still applied (a parked
      // compensation waits for it), and its answer must say so, not fail as if it were not.
      if (saga.epochs) await CancellationScope.nonCancellable(() => condition(() => state.pendingDecision !== d));
      return { accepted: true as const, step, action: d.action };
    },
    {
      validator: (d) => {
        // The admin API checks the same with its schema; the CLI's and the Web UI's updates come straight here.
        if (!isDecision(d)) throw ApplicationFailure.create({ type: 'InvalidDecision', message: `A decision is {"action": "retry" | "skip" | "abort", "operator": a name of 1 to ${DECISION_LIMITS.operator} characters, "reason": text of up to ${DECISION_LIMITS.reason} characters}.`, nonRetryable: true });
        if (!state.parked) throw ApplicationFailure.create({ type: 'NotParked', message: `Nothing is waiting for a decision; the saga is ${state.status}.`, nonRetryable: true });
        if (state.pendingDecision) {
          throw ApplicationFailure.create({ type: 'DecisionInProgress', message: `Another decision (${state.pendingDecision.action} by ${state.pendingDecision.operator}) is being applied; look at the saga again.`, nonRetryable: true });
        }
        if (d.action !== 'retry' && !d.reason?.trim()) throw ApplicationFailure.create({ type: 'ReasonRequired', message: `A reason is required to ${d.action}.`, nonRetryable: true });
        if (d.action === 'abort') refuseAbortThatStrandsEffects(state.parked, saga);
      },
    },
  );
}

/** The OperatorDecision schema's rule, without zod (the workflow bundle stays zod-free). */
function isDecision(d: unknown): d is OperatorDecision {
  if (!d || typeof d !== 'object' || Array.isArray(d)) return false;
  const { action, operator, reason, ...rest } = d as Record<string, unknown>;
  return (
    Object.keys(rest).length === 0 &&
    (action === 'retry' || action === 'skip' || action === 'abort') &&
    typeof operator === 'string' &&
    operator.length >= 1 &&
    operator.length <= DECISION_LIMITS.operator &&
    (reason === undefined || (typeof reason === 'string' && reason.length <= DECISION_LIMITS.reason))
  );
}

/**
 * An abort must not leave money and access out of step, so it is refused where it would: at a
 * parked compensation (abort would leave that undo undone: a refund never made, access never
 * revoked), at a parked step with nothing to undo it that failed without a definite refusal (it may
 * have happened), and at a parked step when a step before it is done with nothing to undo it (a
 * refund's `refundPayment` once the money is back). Retry, or skip (done by hand), settles
 * those. An abort of a parked forward step whose predecessors can all be undone compensates them.
 */
function refuseAbortThatStrandsEffects(parked: Parked, saga: Saga): void {
  const hazard = abortHazard(parked, saga);
  if (hazard) throw ApplicationFailure.create({ type: 'AbortNotSafe', message: hazard, nonRetryable: true });
}

/** Why undoing the saga now would strand an effect (see above), in words for support; undefined when it would not. `parked`: none while a step runs. */
function abortHazard(parked: Parked | undefined, saga: Saga): string | undefined {
  const at = parked?.step ?? saga.current ?? 'this point';
  const hazard = (what: string) => `Aborting at ${at} would leave ${what}: money and access out of step. Retry it, or skip it once it is done by hand.`;
  const compensation = parked && saga.steps.find((s) => s.name === parked.step)?.compensation;
  if (parked?.kind === 'compensation') return hazard(`its undo (${compensation ?? 'the compensation'}) undone`);
  // The earlier steps could not be looked at: what an abort would undo (or whether the order had completed) is unknown.
  if (parked?.error.type === CHECK_FAILED) return `Aborting at ${at} would undo steps that could not be looked at (the order may have completed and been refunded): retry (it looks again), or skip once you have looked by hand.`;
  // A step done by hand (skipped) is as undoable by the saga as one with no compensation: its undo
  // would find nothing of ours (a grant made by hand), and the refund would leave the access.
  const stranded = saga.steps.filter((s) => s.state === 'skipped' || (s.state === 'completed' && !s.compensation)).map((s) => s.name);
  if (stranded.length > 0) return hazard(`${stranded.join(', ')} done (by hand, or with nothing to undo it) where the saga cannot undo it, and the steps after it undone`);
  // A step with nothing to undo it that failed without a definite answer (a day of timeouts) may have
  // happened: a refund may be made. Retry it (same key: it finds what was done); abort once it is refused.
  if (parked && !saga.parkedOnRefusal && !compensation) return hazard(`${parked.step} possibly done (it failed without a definite answer) with nothing to undo it`);
  return undefined;
}

/**
 * The saga's body, cancellable by an operator's Cancel (Web UI, CLI), under two rules (asked only
 * when a Cancel comes, so histories cancelled before replay as they ran):
 *
 * - A Cancel acts only where the saga waits for something other than a downstream call: parked,
 *   waiting for the processor's webhook, pausing. A call under way is never abandoned (it could
 *   commit after its undo had looked for it), and the saga goes on to its next wait, or its end: a
 *   Cancel landing in a workflow task that ran local activities makes the server refuse that
 *   task, and its retry must run them again, with the same keys, to learn what they did, which a
 *   Cancel acting at the first step boundary would cut short. A saga whose calls all answer runs on
 *   to its end, and the Cancel is recorded as too late.
 * - A Cancel is an abort by another name and keeps the abort's rule: where undoing now would strand
 *   an effect (a step skipped as done by hand, a possibly made refund), or there is nothing to undo
 *   (the attempt had completed before), it is not acted on.
 *
 * A Cancel not acted on is recorded for support (`cancelRefused`); the saga carries on (a parked
 * step still waits for retry or skip). Otherwise the body is cancelled and compensated, as ever.
 */
function cancellableBody<R>(frame: Frame, body: () => Promise<R>): Promise<R> {
  const { saga, state } = frame;
  // Shielded from the run's own cancellation, which reaches the body only through `scope.cancel()` below.
  const shield = new CancellationScope({ cancellable: false });
  const scope = new CancellationScope({ cancellable: true, parent: shield });
  let running = true;
  let pending = false;
  const refuse = (why: string) => {
    state.cancelRefused = { at: new Date().toISOString(), reason: `A Cancel was not acted on. ${why}` };
  };
  const act = () => {
    pending = false;
    const refusal = saga.uncancellable ?? abortHazard(state.parked, saga) ?? (saga.adopting ? 'There is nothing to undo: this order had completed before the Cancel; refund it instead.' : undefined);
    if (refusal) refuse(refusal);
    else scope.cancel();
  };
  saga.onWait = () => {
    if (pending && running) act();
  };
  const judge = () => {
    if (!running) return; // settled already: nothing left to cancel (the outcome stands)
    if (!patched(CANCEL_RULES_PATCH)) return scope.cancel(); // histories from before the rules: every attempt cancelled at once
    if (state.cancelJudged) return; // one Cancel, judged once: refused or too late in an earlier attempt stays so
    state.cancelJudged = true;
    // Acts at the saga's next wait (see above); so does one that lands while an operator's retry or skip
    // is checked, which a Cancel must not overtake (a skip done by hand is not undone by the saga).
    if (saga.callUnderWay || (saga.decisionUnderWay && patched(CANCEL_WAITS_FOR_DECISIONS_PATCH))) pending = true;
    else act();
  };
  const root = CancellationScope.current();
  if (!root.consideredCancelled) root.cancelRequested.catch(judge);
  // Cancelled before this attempt began (a Cancel in the very activation that starts the run, or one
  // that came while the last attempt was being undone). Before the rules, such an attempt was
  // cancelled before it did anything. Under them it is judged once its first call is under way: its
  // local activities may have run in a workflow task the server refused, and must run again to be known.
  else if (!patched(CANCEL_RULES_PATCH)) scope.cancel();
  else void Promise.resolve().then(judge);
  return shield.run(() => scope.run(body)).then(
    (result) => {
      running = false;
      if (pending) refuse(saga.uncancellable ?? 'Every call under way answered, and the order completed before it waited for anything: the Cancel came too late; refund it instead.');
      return result;
    },
    (err: unknown) => {
      running = false; // failed for its own reasons: it is undone as ever
      throw err;
    },
  );
}
const LATE_COMMITS_PATCH = 'undo-looks-again-after-an-unanswered-call';
const LATE_COMMITS_AFTER_ANY_END_PATCH = 'undo-looks-again-whatever-ended-an-unanswered-step';
const CANCEL_RULES_PATCH = 'cancel-waits-for-calls-and-keeps-the-abort-rule';
const CANCEL_WAITS_FOR_DECISIONS_PATCH = 'cancel-waits-for-a-decision-being-checked';

/** Park: show needs_attention (and the step) to support, wait for a decision, record it, resume. */
function parker(frame: Frame): NonNullable<Saga['parker']> {
  const { state } = frame;
  return async (step, kind, error) => {
    const before = state.status;
    state.parked = { step, kind, error, since: new Date().toISOString() };
    frame.setStatus('needs_attention', step);
    frame.saga.waiting();
    try {
      await condition(() => state.pendingDecision !== undefined);
    } catch (err) {
      state.parked = undefined; // cancelled while parked: no longer waiting for anyone
      throw err;
    }
    const taken = state.pendingDecision!;
    state.pendingDecision = undefined;
    state.parked = undefined;
    state.decisions.push({ ...taken, step, at: new Date().toISOString() });
    frame.setStatus(before);
    return taken;
  };
}

/**
 * Waits for running update/signal handlers before the run closes. When the run was cancelled (an
 * operator's Cancel in the Web UI or CLI), the wait must not be cancelled with it: the saga has just
 * compensated and must still fail with its final status, not end as a bare cancellation whose
 * caller learns nothing of what was undone. (Asked only then, so histories cancelled before replay.)
 */
async function handlersFinished(): Promise<void> {
  if (CancellationScope.current().consideredCancelled && patched(CANCELLED_REPORTS_PATCH)) await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  else await condition(allHandlersFinished);
}
const CANCELLED_REPORTS_PATCH = 'cancelled-saga-reports-its-undo';

/**
 * An operator's Cancel that came while an attempt found undone was being undone (or while the call
 * that found it was under way), and was neither acted on nor refused: it stops the saga there, with
 * everything undone, instead of letting the next attempt place a new order, charge and grant that
 * the Cancel would then judge too late. (Asked only then, so histories from before replay as they ran.)
 */
function cancelledBeforeNextAttempt({ state }: Frame): CancelledFailure | undefined {
  if (!CancellationScope.current().consideredCancelled || state.cancelRefused || !patched(CANCEL_BEFORE_NEXT_ATTEMPT_PATCH)) return undefined;
  state.cancelJudged = true;
  return new CancelledFailure('Cancelled by an operator while an undone attempt was being undone: no new attempt was placed.');
}
const CANCEL_BEFORE_NEXT_ATTEMPT_PATCH = 'cancel-stops-before-the-next-attempt';

/**
 * Runs the body; on a business failure compensates and fails with the final status. When the
 * failure is an attempt found already undone, and its undo finished, the body runs again as the
 * next attempt (workflows/saga.ts has the rule).
 */
async function flow<R>(frame: Frame, body: () => Promise<R>, completed: (result: R) => void): Promise<void> {
  const { saga, state } = frame;
  for (;;) {
    try {
      completed(await cancellableBody(frame, body));
      frame.setStatus('completed');
      await handlersFinished(); // waiting callers receive the outcome before the run closes (a Cancel now must not undo a completed saga)
      return;
    } catch (err) {
      // A plain Error here is a bug in our code: let it fail the workflow task so it retries once fixed.
      if (!(err instanceof TemporalFailure)) throw err;
      let cause: TemporalFailure = err;
      const step = saga.current ?? 'workflow';
      let reason = describeFailure(err);
      state.failure = { step, ...reason };
      frame.setStatus('compensating', step);
      // A step whose call ended without an answer may still happen: its undo looks again later (patched
      // when it does). So may one that ended otherwise — an operator's Cancel or abort while it waited
      // out our own credentials or was parked — after a try that had no answer (Saga.mayHaveHappened).
      const { ran, failures } = await saga.compensate(
        endedUnanswered(err)
          ? { step, looksAgain: () => patched(LATE_COMMITS_PATCH) }
          : saga.mayHaveHappened(step)
            ? { step, looksAgain: () => patched(LATE_COMMITS_AFTER_ANY_END_PATCH) }
            : undefined,
      );
      const undone = failures.length === 0;
      if (undone && failureType(err) === ATTEMPT_UNDONE) {
        state.undoneAttempts.push({ attempt: saga.attempt, reference: saga.reference, found: reason.message, at: new Date().toISOString() });
        const cancelled = cancelledBeforeNextAttempt(frame);
        if (!cancelled) {
          state.failure = undefined;
          saga.newAttempt();
          frame.setStatus('running', null);
          continue;
        }
        // The operator's Cancel stands: the undone attempt is the last, and the saga ends compensated.
        cause = cancelled;
        reason = describeFailure(cancelled);
        state.failure = { step, ...reason };
      }
      // Nothing to undo (a saga without compensations) is a plain failure, not a compensated one.
      frame.setStatus(undone && ran > 0 ? 'compensated' : 'failed', step);
      await handlersFinished();
      throw ApplicationFailure.create({
        type: undone ? reason.type : 'CompensationFailed',
        message: undone
          ? `Failed at ${step}: ${reason.message}`
          : `Failed at ${step} (${reason.type}) and could not be fully undone: ${failures.map((f) => `${f.compensation}: ${f.error.message}`).join('; ')}`,
        nonRetryable: true,
        details: [frame.snapshot()],
        cause,
      });
    }
  }
}
