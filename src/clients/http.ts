/**
 * One pooled HTTP client per downstream: keep-alive connections with a cap, connect/headers/body
 * timeouts, a circuit breaker (cockatiel) so a dead downstream fails fast instead of tying up
 * workers, credentials with rotation, and every answer classified into our error types and parsed
 * with zod, so nothing untyped leaves the clients folder (the anti-corruption layer starts here).
 */
import { BrokenCircuitError, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { Pool } from 'undici';
import type { z } from 'zod';
import { DownstreamAuthFailed, DownstreamContractViolation, DownstreamRejected, DownstreamUnavailable } from './errors';

export interface HttpClientOptions {
  service: string;
  baseUrl: string;
  connections?: number;
  connectTimeoutMs?: number;
  /** Time to the response headers: the downstream's processing time budget. */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /**
   * Bearer credentials, newest first. The first is used; a 401 makes the client try the next once
   * (the downstream may not know a freshly rotated key yet) and keep whichever works.
   */
  credentials?: string[];
  /** Credentials for calls made on behalf of a region or tier (e.g. an EU merchant account); others use `credentials`. */
  credentialsByRegion?: Record<string, string[]>;
  breaker?: BreakerOptions;
  /** Told about breaker transitions (open, half-open, closed). */
  onBreakerChange?: (service: string, state: 'open' | 'half-open' | 'closed') => void;
  /** Told when the downstream refuses our credentials (401/403 after trying every key). */
  onAuthFailure?: (service: string, status: number, region?: string) => void;
}

export interface BreakerOptions {
  /** Consecutive unavailable answers that open the breaker. */
  threshold: number;
  /** How long it stays open before one trial call goes through. */
  halfOpenAfterMs: number;
}

const DEFAULT_BREAKER: BreakerOptions = { threshold: 5, halfOpenAfterMs: 10_000 };

/** What a call is made for: the request it serves, and the caller's region or tier (picks credentials). */
export interface CallContext {
  requestId?: string;
  region?: string;
}

/** A call with an effect: it always carries its idempotency key. */
export interface CommandCall extends CallContext {
  idempotencyKey: string;
}

export interface RequestOptions<T> extends CallContext {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  idempotencyKey?: string;
  schema: z.ZodType<T>;
  /** Maps a 4xx body to the downstream's own reason code and message. */
  rejection?: (status: number, body: unknown) => { code: string; reason: string };
}

/** An effectful call's answer, and whether the downstream answered from its idempotency record (`Idempotent-Replayed`). */
export interface CommandAnswer<T> {
  body: T;
  replayed: boolean;
}

/** A downstream object as an effectful call returned it, marked when it came from the downstream's idempotency record. */
export type Replayable<T> = T & { replayed: boolean };

export interface HttpClient {
  readonly service: string;
  readonly breaker: CircuitBreakerPolicy;
  /** How long a call waits for the downstream's answer (its headers) before it is given up as unanswered. */
  readonly answerTimeoutMs: number;
  request<T>(options: RequestOptions<T>): Promise<T>;
  /** Like request, and says whether the answer was replayed from the downstream's record of an earlier call with the same key. */
  command<T>(options: RequestOptions<T> & { idempotencyKey: string }): Promise<CommandAnswer<T>>;
  close(): Promise<void>;
}

/** 4xx that mean "try again later" rather than "no". */
const RETRYABLE_4XX = new Set([408, 409, 425, 429]);

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { service } = options;
  const pool = new Pool(options.baseUrl, {
    connections: options.connections ?? 16,
    connect: { timeout: options.connectTimeoutMs ?? 2_000 },
    headersTimeout: options.headersTimeoutMs ?? 5_000,
    bodyTimeout: options.bodyTimeoutMs ?? 5_000,
    keepAliveTimeout: 10_000,
  });

  const breakerOptions = options.breaker ?? DEFAULT_BREAKER;
  // Only a downstream that is down counts against the breaker: a 5xx, or no answer at all (timeouts,
  // resets). Any 4xx is the downstream working, even one worth retrying (408, 409, 425) or one asking
  // us to slow down (429): one key answered 409 for ever must not fail every customer's calls fast.
  const breaker = circuitBreaker(
    handleWhen((err) => err instanceof DownstreamUnavailable && (err.status === undefined || err.status >= 500)),
    { halfOpenAfter: breakerOptions.halfOpenAfterMs, breaker: new ConsecutiveBreaker(breakerOptions.threshold) },
  );
  let openedAt = 0;
  breaker.onBreak(() => {
    openedAt = Date.now();
    options.onBreakerChange?.(service, 'open');
  });
  breaker.onHalfOpen(() => options.onBreakerChange?.(service, 'half-open'));
  breaker.onReset(() => options.onBreakerChange?.(service, 'closed'));

  // One list per region (and the default), each rotated on its own when a key is refused.
  const credentialLists = new Map<string | undefined, string[]>([[undefined, [...(options.credentials ?? [])]]]);
  for (const [region, keys] of Object.entries(options.credentialsByRegion ?? {})) credentialLists.set(region, [...keys]);
  const credentialsFor = (region?: string) => (region !== undefined && credentialLists.get(region)) || credentialLists.get(undefined)!;

  async function command<T>(req: RequestOptions<T>): Promise<CommandAnswer<T>> {
    try {
      return await breaker.execute(() => send(req));
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        // Fail fast, and tell the caller when a call could get through again (it waits, not us).
        const wait = Math.max(0, breakerOptions.halfOpenAfterMs - (Date.now() - openedAt));
        throw new DownstreamUnavailable(service, `circuit open after repeated failures; next trial in ${wait} ms`, wait, undefined, true);
      }
      throw err;
    }
  }

  async function send<T>(req: RequestOptions<T>, credentialAttempt = 0): Promise<CommandAnswer<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const credentials = credentialsFor(req.region);
    const credential = credentials[0];
    if (credential) headers.authorization = `Bearer ${credential}`;
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (req.idempotencyKey) headers['idempotency-key'] = req.idempotencyKey;
    if (req.requestId) headers['x-request-id'] = req.requestId;

    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    let replayed = false;
    try {
      const res = await pool.request({
        method: req.method,
        path: withQuery(req.path, req.query),
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
      });
      status = res.statusCode;
      retryAfter = res.headers['retry-after'];
      replayed = res.headers['idempotent-replayed'] === 'true';
      text = await res.body.text();
    } catch (err) {
      // Connection refused/reset, connect/headers/body timeout: the effect may or may not have happened.
      const code = (err as { code?: string }).code ?? (err as Error).name;
      throw new DownstreamUnavailable(service, `${req.method} ${req.path} failed: ${code}`);
    }

    if (status === 401 && credentialAttempt + 1 < credentials.length) {
      // Rotation: move the refused credential to the back and try the next one.
      credentials.push(credentials.shift()!);
      return send(req, credentialAttempt + 1);
    }
    if (status === 401 || status === 403) {
      options.onAuthFailure?.(service, status, req.region);
      throw new DownstreamAuthFailed(service, status);
    }
    const body = parseJson(text);
    if (status >= 500 || RETRYABLE_4XX.has(status)) {
      throw new DownstreamUnavailable(service, `${req.method} ${req.path} answered ${status}`, retryAfterMs(retryAfter), status);
    }
    if (status >= 400) {
      const { code, reason } = req.rejection?.(status, body) ?? { code: `http_${status}`, reason: `HTTP ${status}` };
      throw new DownstreamRejected(service, status, code, reason);
    }
    const parsed = req.schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DownstreamContractViolation(service, issue?.path.join('.') || '(body)', issue?.message ?? 'invalid');
    }
    return { body: parsed.data, replayed };
  }

  const request = async <T>(req: RequestOptions<T>): Promise<T> => (await command(req)).body;
  return { service, breaker, answerTimeoutMs: options.headersTimeoutMs ?? 5_000, request, command, close: () => pool.close() };
}

function withQuery(path: string, query?: RequestOptions<unknown>['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
