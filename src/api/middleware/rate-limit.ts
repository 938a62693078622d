/**
 * Rate limits (express-rate-limit, in-memory per API process): per client IP before
 * authentication, per customer for commands and for reads after it, per source for webhooks. Every
 * answer carries the IETF RateLimit / RateLimit-Policy headers; a refusal is a 429 problem with
 * Retry-After. Behind several replicas each keeps its own count (a shared store is a config change).
 */
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Options } from 'express-rate-limit';
import { principalOf } from './auth';
import { HttpProblem, sendProblem } from '../problem';

export interface RateLimitSettings {
  windowMs: number;
  limit: number;
  /** Names the policy in the RateLimit-Policy header and the problem, e.g. `customer-commands`. */
  name: string;
  key: (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => string;
  /** Requests this limiter does not count. */
  skip?: Options['skip'];
}

function limiter({ windowMs, limit, name, key, skip }: RateLimitSettings): RequestHandler {
  return rateLimit({
    windowMs,
    limit,
    identifier: name,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: key,
    ...(skip ? { skip } : {}),
    // Retry-After is already set (from the window's reset) when the handler runs.
    handler: (_req, res) => {
      sendProblem(res, new HttpProblem(429, 'rate-limited', 'Too many requests', `More than ${limit} requests in ${Math.round(windowMs / 1000)} s (${name}); retry after Retry-After seconds.`, { policy: name }));
    },
  });
}

/** Per client IP (the socket's address, or what `trust proxy` allows): everything under /v1 but webhooks. */
export const perIp = (windowMs: number, limit: number) => limiter({ windowMs, limit, name: 'ip', key: (req) => ipKeyGenerator(req.ip ?? 'unknown') });

/** Per customer (the token's subject): commands (POST) and reads (GET/HEAD) counted apart. */
export function perCustomer(windowMs: number, commands: number, reads: number): RequestHandler[] {
  const isRead = (method: string) => method === 'GET' || method === 'HEAD';
  const customer = (_req: unknown, res: { locals: Record<string, unknown> }) => principalOf(res).customerId;
  return [
    limiter({ windowMs, limit: commands, name: 'customer-commands', key: customer, skip: (req) => isRead(req.method) }),
    limiter({ windowMs, limit: reads, name: 'customer-reads', key: customer, skip: (req) => !isRead(req.method) }),
  ];
}

/** Per webhook source (`payments` or the `{source}` path segment), before the signature is checked. */
export const perWebhookSource = (windowMs: number, limit: number) =>
  limiter({ windowMs, limit, name: 'webhook-source', key: (req) => `webhook:${String(req.params.source ?? 'payments')}` });
