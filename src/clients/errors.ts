/**
 * The ways a downstream call fails, and the way its answer can be wrong. Activities decide retry
 * behaviour from the type alone: unavailable retries, rejected and contract violations do not,
 * and our own credentials refused is an operational fault the saga waits out (it is never the
 * customer's failure).
 */

/** Network error, timeout, 5xx, 408/425/429: the request may or may not have been processed. */
export class DownstreamUnavailable extends Error {
  override readonly name = 'DownstreamUnavailable';
  constructor(
    readonly service: string,
    message: string,
    /** From a Retry-After header, or the time until an open breaker lets a call through. */
    readonly retryAfterMs?: number,
    /** The HTTP status, when the downstream answered at all. */
    readonly status?: number,
    /** True when our own circuit breaker refused the call: the downstream was not asked. */
    readonly circuitOpen = false,
  ) {
    super(`${service}: ${message}`);
  }
}

/**
 * 401/403: the downstream refused *our* credentials (a key rotated away, a revoked account). Not
 * the customer's fault and not a business answer: it is fixed by an operator, and meanwhile the
 * saga waits and tries again with the same key, without spending the step's budget.
 */
export class DownstreamAuthFailed extends Error {
  override readonly name = 'DownstreamAuthFailed';
  constructor(
    readonly service: string,
    readonly status: number,
  ) {
    super(`${service} refused our credentials (HTTP ${status}); check its API keys`);
  }
}

/** A 4xx the downstream means: the request was understood and refused. Retrying will not help. */
export class DownstreamRejected extends Error {
  override readonly name = 'DownstreamRejected';
  constructor(
    readonly service: string,
    readonly status: number,
    /** The downstream's own reason code, e.g. `card_declined`. */
    readonly code: string,
    readonly reason: string,
  ) {
    super(`${service} rejected the request (${status} ${code}): ${reason}`);
  }
}

/** The downstream answered 2xx with a body that does not match its contract. */
export class DownstreamContractViolation extends Error {
  override readonly name = 'DownstreamContractViolation';
  constructor(
    readonly service: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${service} answered with an unexpected body at "${field}": ${detail}`);
  }
}
