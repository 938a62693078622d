/**
 * Turns a client's typed error into the Temporal failure that decides what happens next:
 * unavailable → retryable (honouring Retry-After), rejected or malformed → non-retryable with a
 * business type the workflow can act on.
 */
import { ApplicationFailure } from '@temporalio/common';
import { DownstreamContractViolation, DownstreamRejected, DownstreamUnavailable } from '../clients/errors';

export async function classified<T>(rejectedType: (err: DownstreamRejected) => string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toApplicationFailure(err, rejectedType);
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
