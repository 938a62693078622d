/**
 * The saga helper every saga uses. Each step registers its compensation *before* it runs, so a
 * step that timed out after the downstream committed is still undone; compensations run newest
 * first in a scope that workflow cancellation cannot interrupt; a compensation that fails is
 * reported to the caller, never swallowed. It also keeps each step's state for the status query.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, TemporalFailure } from '@temporalio/workflow';
import type { StepError, StepStatus } from '../contracts/order';

export interface Compensation {
  name: string;
  run: () => Promise<unknown>;
}

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

  constructor(stepNames: readonly string[]) {
    this.steps = stepNames.map((name) => ({ name, state: 'pending' }));
  }

  /** Runs one forward step; its compensation (if any) is on the stack before the step starts. */
  async run<T>(name: string, action: () => Promise<T>, compensation?: Compensation): Promise<T> {
    const step = this.step(name);
    this.current = name;
    if (compensation) {
      this.stack.push({ step: name, compensation });
      step.compensation = compensation.name;
    }
    step.state = 'running';
    step.startedAt = now();
    try {
      const result = await action();
      step.state = 'completed';
      return result;
    } catch (err) {
      step.state = 'failed';
      step.error = describeFailure(err);
      throw err;
    } finally {
      step.completedAt = now();
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
        step.state = 'compensating';
        try {
          const result = await compensation.run();
          step.state = 'compensated';
          step.compensationOutcome = outcomeOf(result);
        } catch (err) {
          const error = describeFailure(err);
          step.state = 'compensation_failed';
          step.error = error;
          failures.push({ step: name, compensation: compensation.name, error });
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
