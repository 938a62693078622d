/**
 * Request header semantics the edge promises: Idempotency-Key (draft-ietf-httpapi-idempotency-key-header),
 * Prefer (RFC 7240), and the validation of bodies into problem details that name every bad field.
 */
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { z } from 'zod';
import { IdempotencyKey } from '../contracts/order';
import { HttpProblem } from './problem';

/** Reads Idempotency-Key; the draft makes it a structured-field string, so a quoted value is accepted too. */
export function idempotencyKeyOf(req: Request): string {
  const raw = req.get('idempotency-key');
  if (raw === undefined) {
    throw new HttpProblem(400, 'idempotency-key-missing', 'Idempotency-Key required', 'Every command needs an Idempotency-Key header; reuse it when you retry.');
  }
  const parsed = IdempotencyKey.safeParse(unquotedKey(raw));
  if (!parsed.success) {
    throw new HttpProblem(400, 'idempotency-key-invalid', 'Invalid Idempotency-Key', 'The Idempotency-Key must be 1 to 255 visible ASCII characters.');
  }
  return parsed.data;
}

/**
 * A key as a client may write it: plain, or as a structured-field string (`"abc"`). The same form is
 * accepted wherever a key names a resource (`/v1/orders/"abc"` is `/v1/orders/abc`), so a client
 * that sends the quoted header can build the status URL from it.
 */
export function unquotedKey(raw: string): string {
  const quoted = /^"(.*)"$/.exec(raw.trim());
  return quoted ? quoted[1]! : raw.trim();
}

export interface Preferences {
  respondAsync: boolean;
  /** Seconds the client is willing to wait (RFC 7240 §4.3). */
  waitSeconds?: number;
}

export function preferencesOf(req: Request): Preferences {
  const prefs: Preferences = { respondAsync: false };
  for (const header of req.headers.prefer ? String(req.headers.prefer).split(',') : []) {
    const [token = '', value] = header.split(';')[0]!.split('=').map((s) => s.trim().toLowerCase());
    if (token === 'respond-async') prefs.respondAsync = true;
    if (token === 'wait' && value && /^\d+$/.test(value)) prefs.waitSeconds = Number(value);
  }
  return prefs;
}

export function requireJson(req: Request): void {
  if (!req.is('application/json')) {
    throw new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', 'Send the body as application/json.');
  }
}

/** Parses a body (or a query string) with zod; a failure is a 400 that lists every invalid field with a JSON pointer. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, part: 'body' | 'query' = 'body'): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.map((issue) => ({ pointer: `#/${issue.path.join('/')}`, detail: issue.message }));
  throw new HttpProblem(400, `invalid-${part}`, `Invalid request ${part}`, `${errors.length} field(s) are invalid.`, { errors });
}

/** Canonical JSON (sorted keys) so that key order or whitespace never makes the same request look different. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
