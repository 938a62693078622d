/**
 * How every activity calls a downstream: it heartbeats while it waits (so a crashed worker is
 * noticed within the heartbeat timeout, not the start-to-close timeout), waits out an open
 * breaker instead of spending an attempt on it, and turns a client's typed error into the Temporal
 * failure that decides what happens next: unavailable → retryable (honouring Retry-After),
 * rejected or malformed → non-retryable with a business type, our credentials refused →
 * `DownstreamAuthFailed`, which the saga waits out (see workflows/saga.ts).
 */
import { Context, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { DownstreamAuthFailed, DownstreamContractViolation, DownstreamRejected, DownstreamUnavailable } from '../clients/errors';

const HEARTBEAT_EVERY_MS = 1_000;
/** How long one attempt may wait for an open breaker to let a trial through, well inside the start-to-close timeout. */
const BREAKER_WAIT_BUDGET_MS = 20_000;

export async function callDownstream<T>(rejectedType: (err: DownstreamRejected) => string, call: () => Promise<T>): Promise<T> {
  const context = Context.current();
  // A local activity (the fast path) cannot heartbeat, and must not hold its workflow task waiting
  // for a breaker: it fails at once and the saga runs the step on the downstream's own queue.
  const local = context.info.isLocal;
  const heartbeat = local ? undefined : setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  const waitUntil = local ? 0 : Date.now() + BREAKER_WAIT_BUDGET_MS;
  try {
    for (;;) {
      try {
        return await call();
      } catch (err) {
        // Our own breaker refused: the downstream was not asked, so this is no failed attempt.
        // Wait until it lets a trial through (heartbeating), then ask again.
        if (err instanceof DownstreamUnavailable && err.circuitOpen && Date.now() + (err.retryAfterMs ?? 0) < waitUntil) {
          await sleep(Math.max(50, (err.retryAfterMs ?? 0) + Math.floor(Math.random() * 250)));
          continue;
        }
        if (err instanceof DownstreamAuthFailed) context.log.error('downstream refused our credentials: fix its API keys; the saga waits and retries', { service: err.service, status: err.status });
        throw toApplicationFailure(err, rejectedType);
      }
    }
  } finally {
    clearInterval(heartbeat);
  }
}

/**
 * A look a command makes around its call (does the object still stand? where is ours to undo?).
 * Its failure is not the command's refusal: a 4xx on the look must not read as "order rejected"
 * (the saga would undo what the call did) nor as an undo refused for good (a refund or revocation
 * still on its way would be taken as settled: an abort allowed, no look again). It is retried like
 * an outage instead.
 */
export async function lookAfterAnswer<T>(look: () => Promise<T>): Promise<T> {
  try {
    return await look();
  } catch (err) {
    if (err instanceof DownstreamRejected) throw new DownstreamUnavailable(err.service, `a look after its answer was refused (${err.status} ${err.code}): ${err.reason}`, undefined, err.status);
    throw err;
  }
}

export function toApplicationFailure(err: unknown, rejectedType: (err: DownstreamRejected) => string): unknown {
  if (err instanceof DownstreamRejected) {
    return ApplicationFailure.create({
      type: rejectedType(err),
      message: err.message,
      nonRetryable: true,
      // `refused`: the downstream said no and did nothing; an operator's retry may use a new key (workflows/saga.ts).
      details: [{ service: err.service, status: err.status, code: err.code, reason: err.reason, refused: true }],
    });
  }
  if (err instanceof DownstreamAuthFailed) {
    // Non-retryable here so the workflow hears of it at once and waits without spending the step's budget.
    return ApplicationFailure.create({ type: 'DownstreamAuthFailed', message: err.message, nonRetryable: true, details: [{ service: err.service, status: err.status }] });
  }
  if (err instanceof DownstreamContractViolation) {
    return ApplicationFailure.create({ type: 'DownstreamContractViolation', message: err.message, nonRetryable: true, details: [{ service: err.service, field: err.field }] });
  }
  if (err instanceof DownstreamUnavailable) {
    return ApplicationFailure.create({ type: 'DownstreamUnavailable', message: err.message, nonRetryable: false, nextRetryDelay: err.retryAfterMs });
  }
  return err;
}

/**
 * A forward step got its downstream's stored answer for this key, but the object it names has
 * since been undone (cancelled, refunded, revoked): this attempt was compensated earlier and the
 * run is a replay of it (a reset). The saga finishes undoing it and starts a new attempt.
 */
export function attemptUndone(service: string, reference: string, found: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'AttemptUndone',
    message: `${service}: the earlier attempt ${reference} was already undone (${found}); this run replays it`,
    nonRetryable: true,
    details: [{ service, reference, found }],
  });
}
