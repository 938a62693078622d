/**
 * JWT bearer authentication (HS256 via jose). The subject is the customer: a caller only ever
 * starts and sees its own transactions, because workflow IDs are built from it.
 */
import type { RequestHandler } from 'express';
import { SignJWT, jwtVerify } from 'jose';
import { CustomerId } from '../../contracts/order';
import { HttpProblem } from '../problem';

export interface AuthOptions {
  secret: string;
  issuer: string;
  audience: string;
}

export interface Principal {
  customerId: string;
  roles: string[];
}

const challenge = { 'WWW-Authenticate': 'Bearer realm="saga-coordinator"' };

export function authenticate(options: AuthOptions): RequestHandler {
  const key = new TextEncoder().encode(options.secret);
  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) throw new HttpProblem(401, 'unauthenticated', 'Authentication required', 'Send a bearer token: Authorization: Bearer <JWT>.', {}, challenge);
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1]!, key, { issuer: options.issuer, audience: options.audience, algorithms: ['HS256'] }));
    } catch {
      throw new HttpProblem(401, 'unauthenticated', 'Invalid token', 'The bearer token is invalid or expired.', {}, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    }
    const subject = CustomerId.safeParse(payload.sub);
    if (!subject.success) throw new HttpProblem(401, 'unauthenticated', 'Invalid token', 'The token has no usable subject.', {}, challenge);
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r: unknown): r is string => typeof r === 'string') : [];
    res.locals.principal = { customerId: subject.data, roles } satisfies Principal;
    next();
  };
}

export function principalOf(res: { locals: Record<string, unknown> }): Principal {
  return res.locals.principal as Principal;
}

/** Issues a token the edge accepts (used by `npm run token` and the tests; production tokens come from your IdP). */
export function signAccessToken(options: AuthOptions & { subject: string; roles?: string[]; ttl?: string }): Promise<string> {
  return new SignJWT({ roles: options.roles ?? [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setExpirationTime(options.ttl ?? '8h')
    .sign(new TextEncoder().encode(options.secret));
}
