/**
 * JWT bearer authentication (HS256 via jose). The subject is the customer: a caller only ever
 * starts and sees its own transactions, because workflow IDs are built from it.
 */
import type { RequestHandler } from 'express';
import { SignJWT, jwtVerify } from 'jose';
import { CustomerId, Region } from '../../contracts/order';
import { HttpProblem } from '../problem';

export interface AuthOptions {
  secret: string;
  issuer: string;
  audience: string;
}

export interface Principal {
  customerId: string;
  roles: string[];
  /** The `region` claim, when the identity provider sets one (a region or tier). */
  region?: string;
}

const challenge = { 'WWW-Authenticate': 'Bearer realm="saga-coordinator"' };

/** Verifies an access token; an invalid one is the 401 problem the edge answers. */
export async function verifyAccessToken(token: string, options: AuthOptions): Promise<Principal> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(options.secret), { issuer: options.issuer, audience: options.audience, algorithms: ['HS256'] }));
  } catch {
    throw new HttpProblem(401, 'unauthenticated', 'Invalid token', 'The bearer token is invalid or expired.', {}, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }
  const subject = CustomerId.safeParse(payload.sub);
  if (!subject.success) throw new HttpProblem(401, 'unauthenticated', 'Invalid token', 'The token has no usable subject.', {}, challenge);
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r: unknown): r is string => typeof r === 'string') : [];
  const region = Region.safeParse(payload.region);
  return { customerId: subject.data, roles, ...(region.success ? { region: region.data } : {}) };
}

/**
 * Requires a valid token: `Authorization: Bearer <JWT>`, or, when `cookie` is named, that cookie
 * (what a browser sends on its own, e.g. the Temporal Web UI calling the codec endpoint).
 */
export function authenticate(options: AuthOptions & { cookie?: string }): RequestHandler {
  return async (req, res, next) => {
    const bearer = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(req.get('authorization') ?? '')?.[1];
    const token = bearer ?? (options.cookie ? cookieOf(req.get('cookie'), options.cookie) : undefined);
    if (!token) throw new HttpProblem(401, 'unauthenticated', 'Authentication required', 'Send a bearer token: Authorization: Bearer <JWT>.', {}, challenge);
    res.locals.principal = await verifyAccessToken(token, options);
    next();
  };
}

/** After authenticate: only callers whose token has `role` get through (403 otherwise). */
export function requireRole(role: string): RequestHandler {
  return (_req, res, next) => {
    if (!principalOf(res).roles.includes(role)) throw new HttpProblem(403, 'forbidden', 'Forbidden', `This needs the "${role}" role.`);
    next();
  };
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  const pair = header?.split(';').map((c) => c.trim()).find((c) => c.startsWith(`${name}=`));
  return pair?.slice(name.length + 1) || undefined;
}

export function principalOf(res: { locals: Record<string, unknown> }): Principal {
  return res.locals.principal as Principal;
}

/** Issues a token the edge accepts (used by `npm run token` and the tests; production tokens come from your IdP). */
export function signAccessToken(options: AuthOptions & { subject: string; roles?: string[]; region?: string; ttl?: string }): Promise<string> {
  return new SignJWT({ roles: options.roles ?? [], ...(options.region ? { region: options.region } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setExpirationTime(options.ttl ?? '8h')
    .sign(new TextEncoder().encode(options.secret));
}
