/**
 * One pooled HTTP client per downstream: keep-alive connections with a cap, connect/headers/body
 * timeouts, and every answer classified into our error types and parsed with zod, so nothing
 * untyped leaves the clients folder (the anti-corruption layer starts here).
 */
import { Pool } from 'undici';
import type { z } from 'zod';
import { DownstreamContractViolation, DownstreamRejected, DownstreamUnavailable } from './errors';

export interface HttpClientOptions {
  service: string;
  baseUrl: string;
  connections?: number;
  connectTimeoutMs?: number;
  /** Time to the response headers: the downstream's processing time budget. */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Static headers (credentials) sent with every call. */
  headers?: Record<string, string>;
}

export interface RequestOptions<T> {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  idempotencyKey?: string;
  requestId?: string;
  schema: z.ZodType<T>;
  /** Maps a 4xx body to the downstream's own reason code and message. */
  rejection?: (status: number, body: unknown) => { code: string; reason: string };
}

export interface HttpClient {
  readonly service: string;
  request<T>(options: RequestOptions<T>): Promise<T>;
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

  async function request<T>(req: RequestOptions<T>): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (req.idempotencyKey) headers['idempotency-key'] = req.idempotencyKey;
    if (req.requestId) headers['x-request-id'] = req.requestId;

    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    try {
      const res = await pool.request({
        method: req.method,
        path: withQuery(req.path, req.query),
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
      });
      status = res.statusCode;
      retryAfter = res.headers['retry-after'];
      text = await res.body.text();
    } catch (err) {
      // Connection refused/reset, connect/headers/body timeout: the effect may or may not have happened.
      const code = (err as { code?: string }).code ?? (err as Error).name;
      throw new DownstreamUnavailable(service, `${req.method} ${req.path} failed: ${code}`);
    }

    const body = parseJson(text);
    if (status >= 500 || RETRYABLE_4XX.has(status)) {
      throw new DownstreamUnavailable(service, `${req.method} ${req.path} answered ${status}`, retryAfterMs(retryAfter));
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
    return parsed.data;
  }

  return { service, request, close: () => pool.close() };
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
