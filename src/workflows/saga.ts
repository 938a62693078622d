/**
 * The saga helper every saga uses. Each step registers its compensation *before* it runs, so a
 * step that timed out after the downstream committed is still undone; compensations run newest
 * first in a scope that workflow cancellation cannot interrupt; a compensation that fails is
 * reported to the caller, never swallowed. A step marked `park` (one after money moved) and any
 * compensation can, instead of failing, park the saga for an operator (see `parker`): retry, skip
 * or abort. It also keeps each step's state for the status query.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, TemporalFailure } from '@temporalio/workflow';
import type { OperatorDecision, StepError, StepStatus } from '../contracts/transaction';

export interface Compensation {
  name: string;
  run: () => Promise<unknown>;
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

export class Saga {
  readonly steps: StepStatus[];
  /** The step that ran last: the one that failed, when a step fails. */
  current?: string;
  private readonly stack: { step: string; compensation: Compensation }[] = [];
  /** Set by the frame that can wait for operators; without it, nothing parks. */
  parker?: Parker;

  constructor(stepNames: readonly string[]) {
    this.steps = stepNames.map((name) => ({ name, state: 'pending' }));
  }

  /** Runs one forward step; its compensation (if any) is on the stack before the step starts. */
  async run<T>(name: string, action: () => Promise<T>, options: StepOptions<T> = {}): Promise<T> {
    const step = this.step(name);
    this.current = name;
    if (options.compensation) {
      this.stack.push({ step: name, compensation: options.compensation });
      step.compensation = options.compensation.name;
    }
    step.startedAt = now();
    for (;;) {
      step.state = 'running';
      try {
        const result = await action();
        step.state = 'completed';
        step.error = undefined;
        step.completedAt = now();
        return result;
      } catch (err) {
        step.state = 'failed';
        step.error = describeFailure(err);
        step.completedAt = now();
        // Only business failures park; a bug (plain Error) must fail the workflow task instead.
        if (!options.park || !this.parker || !(err instanceof TemporalFailure)) throw err;
        const decision = await this.parker(name, 'step', step.error);
        if (decision.action === 'skip') {
          step.state = 'skipped';
          return options.park.skipped();
        }
        if (decision.action === 'abort') throw err;
      }
    }
  }

  /**
   * Runs every registered compensation, newest first, even if an older one fails (a failed revoke
   * must not stop the refund). Returns how many ran and which failed; the caller decides what to do.
   */
  async compensate(): Promise<{ ran: number; failures: CompensationFailure[] }> {
    const failures: CompensationFailure[] = [];
    const ran = this.stack.length;
    await CancellationScope.nonCancellable(async () => {
      while (this.stack.length > 0) {
        const { step: name, compensation } = this.stack.pop()!;
        const step = this.step(name);
        for (;;) {
          step.state = 'compensating';
          try {
            const result = await compensation.run();
            step.state = 'compensated';
            step.compensationOutcome = outcomeOf(result);
            break;
          } catch (err) {
            const error = describeFailure(err);
            step.state = 'compensation_failed';
            step.error = error;
            const decision = this.parker && err instanceof TemporalFailure ? await this.parker(name, 'compensation', error) : undefined;
            if (decision?.action === 'retry') continue;
            if (decision?.action === 'skip') {
              step.state = 'compensated';
              step.compensationOutcome = `skipped by ${decision.operator}: ${decision.reason}`;
              break;
            }
            failures.push({ step: name, compensation: compensation.name, error });
            break;
          }
        }
      }
    });
    return { ran, failures };
  }

  private step(name: string): StepStatus {
    const step = this.steps.find((s) => s.name === name);
    if (!step) throw new Error(`Saga has no step named ${name}`); // a bug: fails the workflow task until fixed
    return step;
  }
}

/** The business reason behind a failure chain: the innermost ApplicationFailure's type and message. */
export function describeFailure(err: unknown): StepError {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ApplicationFailure', message: cause.message };
  if (cause instanceof TemporalFailure) return { type: cause.name, message: cause.message };
  return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}

/** Compensations may report what they found (`{ outcome: 'not_charged' }`); kept for support and callers. */
function outcomeOf(result: unknown): string {
  const outcome = (result as { outcome?: unknown } | undefined)?.outcome;
  return typeof outcome === 'string' ? outcome : 'done';
}

function now(): string {
  return new Date().toISOString(); // workflow time: deterministic on replay
}
