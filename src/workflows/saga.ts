/**
 * The saga helper every saga uses. Each step registers its compensation *before* it runs, so a
 * step that timed out after the downstream committed is still undone; compensations run newest
 * first in a scope that workflow cancellation cannot interrupt; a compensation that fails is
 * reported to the caller, never swallowed. A step marked `park` (one after money moved) and any
 * compensation can, instead of failing, park the saga for an operator (see `parker`): retry, skip
 * or abort. It also keeps each step's state for the status query, and owns the downstream keys.
 *
 * The key rule. Every downstream call carries `Idempotency-Key: <workflowId>/<step>/<epoch>`.
 * The downstream does a key's effect at most once and answers every repeat from its record, so the
 * epoch says whether a call is "the same effect again" or "a new effect":
 *
 * - The same epoch, whatever the machinery does: activity retries, worker crashes, lost answers,
 *   a Temporal reset of a run that was not undone. None of these is a decision that the effect must
 *   happen again, and each must find the first effect instead of making a second. So the epoch
 *   never comes from the run ID, the activity attempt or the clock: it is workflow state.
 * - A new epoch only when a person decided the effect must really happen again:
 *   - an operator `retry` of a step or compensation the downstream *refused* (a 4xx: nothing
 *     happened, and its record would refuse the same key for ever): `<attempt>.<n>`, e.g. `1.2`;
 *     a step that failed without a definite answer (timeouts) keeps its key, because its effect may
 *     have happened;
 *   - a replay of a compensated transaction, a new attempt: every step gets epoch `<attempt>` and
 *     the attempt's objects carry their own reference (`<workflowId>#<attempt>`), so compensations
 *     and lookups find exactly that attempt's charge, order and grant. Support's replay starts one
 *     explicitly; a Temporal reset of a compensated run discovers it: a forward step that gets a
 *     stored answer checks the object still stands, and one that was cancelled, refunded or revoked
 *     (`AttemptUndone`) makes the saga finish undoing that attempt and begin the next. Not when the
 *     attempt had completed (its legacy order says `completed` or `refunded`): what was undone since
 *     was the customer's refund; it is adopted as it stands, and nothing is placed again
 *     (workflows/order.ts, `completedBefore`).
 * - Operational faults (our credentials refused) wait and try again with the same key, for as long
 *   as it takes, without spending the step's budget and without compensating anything.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, TemporalFailure, TimeoutFailure, isCancellation, patched, sleep } from '@temporalio/workflow';
import type { OperatorDecision, StepError, StepStatus } from '../contracts/transaction';
import { ATTEMPT_UNDONE, OPERATIONAL_FAILURES, attemptReference, downstreamKey } from '../contracts/transaction-protocol';

/**
 * Marks runs started after support actions became safe by construction: their keys carry an epoch
 * and a decision is answered once applied. Histories from before keep `<workflowId>/<step>` and
 * their old answers (`patched()`), so they still replay.
 */
export const EPOCH_KEYS_PATCH = 'attempt-scoped-keys';

/** Marks runs that may take the fast path (forward steps as local activities first); histories from before it replay without. */
export const FAST_PATH_PATCH = 'fast-path-local-activities';

export interface Compensation {
  name: string;
  /**
   * Undoes the step; `idempotencyKey` is the compensation's own key (same rule as a step's). `again`:
   * this undo was sent before under this key (an operator's retry, a late look), so a downstream
   * that may not deduplicate it could still be processing the first (workflows/order.ts, cancelOrder).
   */
  run: (idempotencyKey: string, again?: boolean) => Promise<unknown>;
}

export interface StepOptions<T> {
  compensation?: Compensation;
  /** Park instead of failing when this step fails for good; `skipped` is its result if an operator skips it. */
  park?: { skipped: () => T };
}

/** Waits for an operator's decision on a parked step or compensation. */
export type Parker = (step: string, kind: 'step' | 'compensation', error: StepError) => Promise<OperatorDecision>;

export interface CompensationFailure {
  step: string;
  compensation: string;
  error: StepError;
}

export interface SagaOptions {
  workflowId: string;
  /** Which attempt at the transaction this run begins with (a support replay starts at n + 1). */
  attempt?: number;
  /** False only for histories from before keys carried an epoch: they keep `<workflowId>/<step>`. */
  epochs?: boolean;
}

/** A step parked because the earlier steps could not be looked at (its own call not made). */
export const CHECK_FAILED = 'CheckFailed';

/** An aborted refund's restore that found the access still granted looks again, like a compensation that found nothing. */
const RESTORE_LOOKS_AGAIN_PATCH = 'restore-looks-again-after-an-unanswered-revoke';

/** What a compensation answers when it found nothing of ours to undo. */
const FOUND_NOTHING = ['not_charged', 'not_granted', 'not_found'];
/** When the undo of a step whose call ended without an answer looks again (after its first look): a minute, then ten. */
export const LATE_COMMIT_CHECKS_MS = [60_000, 600_000];

/** Waits between tries of a step held up by an operational fault: 2 s doubling to 5 minutes. */
const OPERATIONAL_WAIT = { firstMs: 2_000, maxMs: 300_000 };

export class Saga {
  readonly steps: StepStatus[];
  /** The step that ran last: the one that failed, when a step fails. */
  current?: string;
  private readonly stack: { step: string; compensation: Compensation }[] = [];
  /** The forward steps done in this attempt: a decision first checks they still stand (see `checkEarlierSteps`). */
  private readonly done: string[] = [];
  /**
   * Set by a saga that checks its earlier steps before acting on an operator's retry or skip: `asked`
   * (patched, so decisions made before replay as they ran) and `step`, a read-only look at one step's
   * object (AttemptUndone when it was undone since).
   */
  checks?: {
    asked: () => boolean;
    step: (name: string) => Promise<unknown> | undefined;
    /** Whether a forward step looks at the earlier steps before its own call, too: in a run a Temporal reset made (see `run`). */
    beforeEachStep?: () => boolean;
    /**
     * Asked when a step's own look after a stored answer finds its object undone (AttemptUndone):
     * whether this attempt had in fact completed before — then what was undone since was the
     * customer's refund, and the saga adopts what stands (sets `adopting`) instead of undoing it.
     */
    completedBefore?: () => Promise<boolean>;
  };
  /** Set by the frame that can wait for operators; without it, nothing parks. */
  parker?: Parker;
  /** Whether the step parked now failed on a definite refusal (nothing happened) rather than without an answer. */
  parkedOnRefusal = false;
  /**
   * This attempt had completed in an earlier run (a reset after it, or a workflow task lost after its
   * steps ran): its steps adopt what stands, and there is nothing to undo (workflows/order.ts, `completedBefore`).
   */
  adopting = false;
  /** Set by a saga an operator's Cancel never acts on (a refund): why, recorded with the Cancel. */
  uncancellable?: string;
  /** Told when the saga starts to wait for something other than a downstream call: a park, a webhook, a pause (see `waiting`). */
  onWait?: () => void;
  private callsUnderWay = 0;
  private decisionsUnderWay = 0;
  private readonly unanswered = new Set<string>();
  private attemptNumber: number;
  /** The attempt this run began with (a reset run's looks are for it only; see `run`). */
  private readonly firstAttempt: number;
  /** Operator retries of a refused step or compensation within this attempt: 1 is the first try. */
  private readonly tries = new Map<string, number>();

  constructor(
    private readonly stepNames: readonly string[],
    private readonly options: SagaOptions,
  ) {
    this.steps = stepNames.map((name) => ({ name, state: 'pending' }));
    this.attemptNumber = options.attempt ?? 1;
    this.firstAttempt = this.attemptNumber;
  }

  /** Whether this run's keys carry epochs (it started after the change that introduced them; see EPOCH_KEYS_PATCH). */
  get epochs(): boolean {
    return this.options.epochs !== false;
  }

  get attempt(): number {
    return this.attemptNumber;
  }

  /** Whether a downstream call (a forward step's activity or local activity) is under way: its effect may be happening now. */
  get callUnderWay(): boolean {
    return this.callsUnderWay > 0;
  }

  /** Whether an operator's retry or skip is being checked (the earlier steps looked at) before it moves the saga on. */
  get decisionUnderWay(): boolean {
    return this.decisionsUnderWay > 0;
  }

  /**
   * Whether `name`'s call may have happened though the saga never heard it did: a try ended without
   * an answer, or its last failure was one of ours (credentials refused), behind which Temporal's
   * retries may hide such tries. Its undo then looks again later, whatever ended the step.
   */
  mayHaveHappened(name: string): boolean {
    return this.unanswered.has(name);
  }

  /**
   * A forward step's downstream call, counted while it is under way: an operator's Cancel does not
   * abandon it (workflows/transaction.ts), so what the call did is known before anything is undone.
   */
  call<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return (...args: A) => this.counted(() => fn(...args));
  }

  /** The saga is about to wait for something other than a downstream call (a park, a webhook, a pause): a pending Cancel may act now. */
  waiting(): void {
    this.onWait?.();
  }

  /** The reference this attempt's downstream objects carry. */
  get reference(): string {
    return attemptReference(this.options.workflowId, this.attemptNumber);
  }

  /** The epoch of a step's or compensation's key (undefined for pre-epoch histories). */
  epoch(name: string): string | undefined {
    if (this.options.epochs === false) return undefined;
    const tries = this.tries.get(name) ?? 1;
    return tries === 1 ? String(this.attemptNumber) : `${this.attemptNumber}.${tries}`;
  }

  /** The downstream key of a step or compensation, per the rule above. */
  key(name: string): string {
    return downstreamKey(this.options.workflowId, name, this.epoch(name));
  }

  /**
   * Begins the next attempt after the previous one was found undone and its undo finished: new
   * epochs, a new reference, every step pending again. Only for sagas with epochs.
   */
  newAttempt(): void {
    if (this.options.epochs === false) throw new Error('a saga without epochs cannot begin a new attempt'); // a bug
    this.attemptNumber += 1;
    this.tries.clear();
    this.unanswered.clear();
    this.stack.length = 0;
    this.done.length = 0;
    this.current = undefined;
    this.steps.splice(0, this.steps.length, ...this.stepNames.map((name): StepStatus => ({ name, state: 'pending' })));
  }

  /** Runs one forward step; its compensation (if any) is on the stack before the step starts. */
  async run<T>(name: string, action: (idempotencyKey: string) => Promise<T>, options: StepOptions<T> = {}): Promise<T> {
    const step = this.step(name);
    this.current = name;
    if (options.compensation) {
      this.stack.push({ step: name, compensation: options.compensation });
      step.compensation = options.compensation.name;
    }
    step.startedAt = now();
    let waited = 0;
    // A run a Temporal reset made can go on from any workflow task, with the Cancel or abort that undid
    // the attempt since dropped, and with the signals after that point applied again (a payment webhook):
    // each forward step of the attempt it revived first looks at the earlier steps' objects, so a grant
    // is never made against a charge refunded since. One found undone ends this attempt as a decision's
    // check does; a next attempt placed by this run is its own and needs no look.
    if (this.done.length > 0 && this.attemptNumber === this.firstAttempt && this.checks?.beforeEachStep?.() === true) {
      step.state = 'running';
      step.epoch = this.epoch(name);
      await this.lookBefore(name, step);
    }
    for (;;) {
      step.state = 'running';
      step.epoch = this.epoch(name);
      try {
        const result = await action(this.key(name));
        step.state = 'completed';
        step.error = undefined;
        step.completedAt = now();
        this.done.push(name);
        this.unanswered.delete(name); // answered: what it did is known
        return result;
      } catch (err) {
        step.error = describeFailure(err);
        // A definite answer (a refusal, a decline, an attempt found undone) settles what was made under the
        // key; only a try without one — or our own refused credentials, behind which Temporal's retries
        // hide such tries — leaves it possibly made.
        if (endedUnanswered(err) || isOperational(err)) this.unanswered.add(name);
        else if (!isCancellation(err)) this.unanswered.delete(name);
        if (isOperational(err)) {
          this.waiting();
          waited = await waitOperational(waited); // still running: same key, no budget spent
          continue;
        }
        // The step's own look found its object refunded or revoked, where no look before it ran (a reset
        // to a workflow task inside this step): an undo, or the customer's refund of an order that had
        // completed. The order is asked; one that had completed is adopted, and the step runs again.
        if (failureType(err) === ATTEMPT_UNDONE && (await this.completedAfterAll())) {
          step.error = undefined;
          continue;
        }
        step.state = 'failed';
        step.completedAt = now();
        // Only business failures park; a bug (plain Error) must fail the workflow task instead, and
        // an undone attempt is the frame's to handle.
        if (!options.park || !this.parker || !(err instanceof TemporalFailure) || failureType(err) === ATTEMPT_UNDONE) throw err;
        this.parkedOnRefusal = isRefusal(err);
        let decision = await this.parker(name, 'step', step.error);
        for (let unchecked; decision.action !== 'abort' && (unchecked = await this.checkingDecision(() => this.checkEarlierSteps())); ) {
          // The earlier steps could not be looked at: nothing moves on unchecked; the operator decides again.
          step.error = { type: CHECK_FAILED, message: `Could not check that the earlier steps still stand (${describeFailure(unchecked).message}); decide again.` };
          decision = await this.parker(name, 'step', step.error);
        }
        if (decision.action === 'skip') {
          step.state = 'skipped';
          return options.park.skipped();
        }
        if (decision.action === 'abort') throw err;
        if (isRefusal(err)) this.retryWithNewEpoch(name);
      }
    }
  }

  /**
   * Runs every registered compensation, newest first, even if an older one fails (a failed revoke
   * must not stop the refund). Returns how many ran and which failed; the caller decides what to do.
   * `unanswered`: the step whose call ended without an answer, whose undo looks again (see `lookAgain`).
   */
  async compensate(unanswered?: { step: string; looksAgain: () => boolean }): Promise<{ ran: number; failures: CompensationFailure[] }> {
    const failures: CompensationFailure[] = [];
    const ran = this.stack.length;
    let late: { name: string; compensation: Compensation } | undefined;
    await CancellationScope.nonCancellable(async () => {
      while (this.stack.length > 0) {
        const { step: name, compensation } = this.stack.pop()!;
        if (name === unanswered?.step) late = { name, compensation };
        await this.undo(name, compensation, failures);
      }
      if (late && unanswered) await this.lookAgain(late.name, late.compensation, unanswered.looksAgain, failures);
    });
    return { ran, failures };
  }

  /** One compensation, until it is done, skipped by an operator, or given up (then it is in `failures`). */
  private async undo(name: string, compensation: Compensation, failures: CompensationFailure[], again = false): Promise<void> {
    const step = this.step(name);
    let waited = 0;
    for (let sent = again; ; sent = true) {
      step.state = 'compensating';
      try {
        const result = await compensation.run(this.key(compensation.name), sent);
        step.state = 'compensated';
        step.compensationOutcome = outcomeOf(result);
        return;
      } catch (err) {
        const error = describeFailure(err);
        step.error = error;
        if (isOperational(err)) {
          waited = await waitOperational(waited);
          continue;
        }
        step.state = 'compensation_failed';
        const decision = this.parker && err instanceof TemporalFailure ? await this.parker(name, 'compensation', error) : undefined;
        if (decision?.action === 'retry') {
          if (isRefusal(err)) this.retryWithNewEpoch(compensation.name);
          continue;
        }
        if (decision?.action === 'skip') {
          step.state = 'compensated';
          step.compensationOutcome = `skipped by ${decision.operator}: ${decision.reason}`;
          return;
        }
        failures.push({ step: name, compensation: compensation.name, error });
        return;
      }
    }
  }

  /**
   * The step whose call ended without an answer (its retries ran out on timeouts or outages) may
   * still happen: the downstream can be processing the request we gave up on and commit it after its
   * undo looked and found nothing. So that undo looks again, with the same key, after each of
   * LATE_COMMIT_CHECKS_MS, until it finds something to undo (the saga stays `compensating`
   * meanwhile); what it then finds is undone like any compensation (parked, or in `failures`).
   */
  private async lookAgain(name: string, compensation: Compensation, asked: () => boolean, failures: CompensationFailure[]): Promise<void> {
    const step = this.step(name);
    // A restore that found the access still granted found nothing undone yet: the revocation may still land.
    const nothingYet = () => FOUND_NOTHING.includes(step.compensationOutcome ?? '') || (step.compensationOutcome === 'still_granted' && patched(RESTORE_LOOKS_AGAIN_PATCH));
    if (step.state !== 'compensated' || !nothingYet() || !asked()) return;
    for (const afterMs of LATE_COMMIT_CHECKS_MS) {
      step.compensationOutcome = `${step.compensationOutcome}; looking again in ${afterMs / 1000} s: its call ended without an answer, and may still be made`;
      await sleep(afterMs);
      await this.undo(name, compensation, failures, true);
      if (step.state !== 'compensated' || !nothingYet()) return;
    }
  }

  /**
   * Before an operator's retry or skip moves the attempt on, its earlier steps must still stand: a
   * reset to before a Cancel (which a reset does not carry over) revives a run whose charge was
   * refunded and legacy order cancelled by that Cancel's compensation, and going on from there
   * would grant access against a refunded charge. Each earlier step's object is looked at (read
   * only, by the attempt's reference); one undone since fails with AttemptUndone, thrown, so the
   * saga finishes undoing this attempt and places the next, as a reset of a compensated order does.
   * Any other failure to look is returned: the step parks again rather than move on unchecked.
   */
  private async checkEarlierSteps(): Promise<unknown> {
    if (this.done.length === 0 || !this.checks?.asked()) return undefined;
    return this.lookAtEarlierSteps();
  }

  /**
   * The look before a step in a run a reset made (see `run`), until it passes: an operational fault
   * waits and looks again; any other failure to look parks the step for a decision (CheckFailed: the
   * step's own call has not been made), where retry looks again, skip goes on unchecked (the operator
   * looked) and abort undoes the attempt. Counted as a call, so a Cancel meanwhile is judged once the
   * saga knows what it is undoing (an order found completed before is adopted, not compensated).
   */
  private async lookBefore(name: string, step: StepStatus): Promise<void> {
    for (let waited = 0; ; ) {
      const unchecked = await this.counted(() => this.lookAtEarlierSteps()).catch((err: unknown) => {
        // The attempt was found undone: the step fails with it (the frame undoes the attempt).
        step.state = 'failed';
        step.error = describeFailure(err);
        throw err;
      });
      if (!unchecked) return;
      if (isOperational(unchecked)) {
        // Not a wait a Cancel may act in: until the look passes, what it would undo is not known.
        waited = await waitOperational(waited);
        continue;
      }
      const error: StepError = { type: CHECK_FAILED, message: `Could not check that the earlier steps still stand (${describeFailure(unchecked).message}).` };
      step.error = error;
      step.state = 'failed';
      const unlooked = ApplicationFailure.create({ type: CHECK_FAILED, message: error.message, nonRetryable: true });
      if (!this.parker) throw unlooked;
      this.parkedOnRefusal = true; // the step's own call was not made: nothing of it to strand
      const decision = await this.parker(name, 'step', error);
      if (decision.action === 'abort') throw unlooked;
      if (decision.action === 'skip') return; // looked at by hand: the step runs
    }
  }

  /** Whether the attempt this run began with had completed before, though a step found its object undone (see `checks.completedBefore`). Counted as a call. */
  private async completedAfterAll(): Promise<boolean> {
    const ask = this.checks?.completedBefore;
    if (!ask || this.adopting || this.attemptNumber !== this.firstAttempt) return false;
    return this.counted(ask);
  }

  /** Counts `fn` as a decision being checked (see `decisionUnderWay`): a Cancel meanwhile waits for the saga's next wait. */
  private checkingDecision<T>(fn: () => Promise<T>): Promise<T> {
    return this.underWay('decisionsUnderWay', fn);
  }

  /** Counts `fn` as a downstream call under way (see `call`). */
  private counted<T>(fn: () => Promise<T>): Promise<T> {
    return this.underWay('callsUnderWay', fn);
  }

  private async underWay<T>(counter: 'callsUnderWay' | 'decisionsUnderWay', fn: () => Promise<T>): Promise<T> {
    this[counter] += 1;
    try {
      return await fn();
    } finally {
      this[counter] -= 1;
    }
  }

  /** Looks at each done step's object (read only): AttemptUndone is thrown, any other failure to look returned. */
  private async lookAtEarlierSteps(): Promise<unknown> {
    if (!this.checks) return undefined;
    for (const name of [...this.done]) {
      try {
        await this.checks.step(name);
      } catch (err) {
        if (failureType(err) === ATTEMPT_UNDONE) throw err;
        return err;
      }
    }
    return undefined;
  }

  /** A step found settled by an operator before (a reset adopting a skip): shown, and treated, as skipped. */
  markSkipped(name: string): void {
    this.step(name).state = 'skipped';
  }

  /** An operator decided a refused call must really be made again: the next try gets a new epoch. */
  private retryWithNewEpoch(name: string): void {
    if (this.options.epochs === false) return; // pre-epoch histories retried with the same key
    this.tries.set(name, (this.tries.get(name) ?? 1) + 1);
  }

  private step(name: string): StepStatus {
    const step = this.steps.find((s) => s.name === name);
    if (!step) throw new Error(`Saga has no step named ${name}`); // a bug: fails the workflow task until fixed
    return step;
  }
}

/** The business reason behind a failure chain: the innermost ApplicationFailure's type and message. */
export function describeFailure(err: unknown): StepError {
  const cause = innermost(err);
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ApplicationFailure', message: cause.message };
  if (cause instanceof TemporalFailure) return { type: cause.name, message: cause.message };
  return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}

/** The business type of a failure (`AttemptUndone`, `PaymentDeclined`…), if it has one. */
export function failureType(err: unknown): string | undefined {
  const cause = innermost(err);
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function innermost(err: unknown): unknown {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  return cause;
}

function isOperational(err: unknown): boolean {
  const type = failureType(err);
  return type !== undefined && OPERATIONAL_FAILURES.includes(type);
}

/**
 * The call ended without an answer: its retries ran out on timeouts or outages (or its answer could
 * not be read), so the downstream may have done it, or may still do it.
 */
export function endedUnanswered(err: unknown): boolean {
  const cause = innermost(err);
  if (cause instanceof TimeoutFailure) return true;
  const type = failureType(err);
  return type === 'DownstreamUnavailable' || type === 'DownstreamContractViolation';
}

/** The downstream definitely said no (a 4xx it records): nothing happened, and the same key would be refused again. */
function isRefusal(err: unknown): boolean {
  const cause = innermost(err);
  const details = cause instanceof ApplicationFailure ? (cause.details?.[0] as { refused?: unknown } | undefined) : undefined;
  return details?.refused === true;
}

/**
 * A read-only look that must not give up on our own operational faults (credentials refused: wait,
 * and ask again) nor swallow an operator's Cancel (nor, with `undoneThrows`, an attempt found undone);
 * any other failure answers undefined.
 */
export async function lookUntilAnswered<T>(look: () => Promise<T>, options: { undoneThrows?: boolean } = {}): Promise<T | undefined> {
  for (let waited = 0; ; ) {
    try {
      return await look();
    } catch (err) {
      if (isCancellation(err) || (options.undoneThrows && failureType(err) === ATTEMPT_UNDONE)) throw err;
      if (!isOperational(err)) return undefined;
      waited = await waitOperational(waited);
    }
  }
}

async function waitOperational(waitedMs: number): Promise<number> {
  const next = waitedMs === 0 ? OPERATIONAL_WAIT.firstMs : Math.min(OPERATIONAL_WAIT.maxMs, waitedMs * 2);
  await sleep(next);
  return next;
}

/** Compensations may report what they found (`{ outcome: 'not_charged' }`); kept for support and callers. */
function outcomeOf(result: unknown): string {
  const outcome = (result as { outcome?: unknown } | undefined)?.outcome;
  return typeof outcome === 'string' ? outcome : 'done';
}

function now(): string {
  return new Date().toISOString(); // workflow time: deterministic on replay
}
