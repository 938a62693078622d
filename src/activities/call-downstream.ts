/**
 * How every activity calls a downstream: it heartbeats while it waits (so a crashed worker is
 * noticed within the heartbeat timeout, not the start-to-close timeout), and turns a client's typed
 * error into the Temporal failure that decides what happens next: unavailable → retryable
 * (honouring Retry-After), rejected or malformed → non-retryable with a business type.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { DownstreamContractViolation, DownstreamRejected, DownstreamUnavailable } from '../clients/errors';

const HEARTBEAT_EVERY_MS = 1_000;

export async function callDownstream<T>(rejectedType: (err: DownstreamRejected) => string, call: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await call();
  } catch (err) {
    throw toApplicationFailure(err, rejectedType);
  } finally {
    clearInterval(heartbeat);
  }
}

export function toApplicationFailure(err: unknown, rejectedType: (err: DownstreamRejected) => string): unknown {
  if (err instanceof DownstreamRejected) {
    return ApplicationFailure.create({
      type: rejectedType(err),
      message: err.message,
      nonRetryable: true,
      details: [{ service: err.service, status: err.status, code: err.code, reason: err.reason }],
    });
  }
  if (err instanceof DownstreamContractViolation) {
    return ApplicationFailure.create({ type: 'DownstreamContractViolation', message: err.message, nonRetryable: true, details: [{ service: err.service, field: err.field }] });
  }
  if (err instanceof DownstreamUnavailable) {
    return ApplicationFailure.create({ type: 'DownstreamUnavailable', message: err.message, nonRetryable: false, nextRetryDelay: err.retryAfterMs });
  }
  return err;
}
