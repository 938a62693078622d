/**
 * JWT bearer authentication (jose). The subject is the customer: a caller only ever starts and
 * sees its own transactions, because workflow IDs are built from it. Two ways to trust a token:
 * an identity provider's JWKS (RS256/ES256, keys fetched and re-fetched on an unknown `kid`, so a
 * key rotation needs no restart), or, for the embedded default only, an HS256 shared secret.
 * Every token must name our issuer and audience and carry `exp`; clocks may differ by a tolerance.
 * A refused token is a 401 with an RFC 6750 `WWW-Authenticate` challenge that says why.
 */
import type { RequestHandler } from 'express';
import { SignJWT, createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { CustomerId, Region } from '../../contracts/order';
import { HttpProblem } from '../problem';

export interface AuthOptions {
  /** HS256 shared secret (the embedded default). Ignored when `jwksUrl` is set. */
  secret?: string;
  /** The identity provider's JWKS endpoint: tokens are then verified with its keys only. */
  jwksUrl?: string;
  /** Accepted algorithms with a JWKS (default RS256, ES256). HS256 is never accepted from a JWKS. */
  algorithms?: string[];
  issuer: string;
  audience: string;
  /** How far the token's clock may be from ours (`exp`, `nbf`, `iat`), in seconds. */
  clockToleranceSeconds?: number;
  /** How soon after a JWKS fetch an unknown `kid` may fetch it again (jose's cooldown). */
  jwksCooldownMs?: number;
}

export interface Principal {
  customerId: string;
  roles: string[];
  /** The `region` claim, when the identity provider sets one (a region or tier). */
  region?: string;
}

const REALM = 'Bearer realm="saga-coordinator"';
/** RFC 6750 §3: no `error` when no token was sent; `invalid_token` with a description when it was refused. */
const challenge = (error?: string, description?: string) => ({
  'WWW-Authenticate': error ? `${REALM}, error="${error}"${description ? `, error_description="${description}"` : ''}` : REALM,
});

function unauthenticated(title: string, detail: string, description: string): HttpProblem {
  return new HttpProblem(401, 'unauthenticated', title, detail, {}, challenge('invalid_token', description));
}

type Verify = (token: string) => Promise<JWTPayload>;
const verifiers = new WeakMap<AuthOptions, Verify>();

/** The verifier for these options: a remote JWKS (created once, cached and re-fetched by jose) or the shared secret. */
function verifierOf(options: AuthOptions): Verify {
  let verify = verifiers.get(options);
  if (verify) return verify;
  const claims = { issuer: options.issuer, audience: options.audience, requiredClaims: ['exp', 'sub'], clockTolerance: options.clockToleranceSeconds ?? 30 };
  if (options.jwksUrl) {
    const keys = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: options.jwksCooldownMs ?? 30_000, timeoutDuration: 5_000 });
    const algorithms = (options.algorithms?.length ? options.algorithms : ['RS256', 'ES256']).filter((a) => !a.startsWith('HS'));
    verify = async (token) => (await jwtVerify(token, keys, { ...claims, algorithms })).payload;
  } else if (options.secret) {
    const secret = new TextEncoder().encode(options.secret);
    verify = async (token) => (await jwtVerify(token, secret, { ...claims, algorithms: ['HS256'] })).payload;
  } else {
    throw new Error('auth needs JWT_JWKS_URL or JWT_SECRET');
  }
  verifiers.set(options, verify);
  return verify;
}

/** Verifies an access token; an invalid one is the 401 problem the edge answers. */
export async function verifyAccessToken(token: string, options: AuthOptions): Promise<Principal> {
  let payload: JWTPayload;
  try {
    payload = await verifierOf(options)(token);
  } catch (err) {
    throw tokenProblem(err);
  }
  const subject = CustomerId.safeParse(payload.sub);
  if (!subject.success) throw unauthenticated('Invalid token', 'The token has no usable subject.', 'The subject is not a valid customer ID');
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r: unknown): r is string => typeof r === 'string') : [];
  const region = Region.safeParse(payload.region);
  return { customerId: subject.data, roles, ...(region.success ? { region: region.data } : {}) };
}

/** Says why a token was refused, in words safe to show (jose's own messages stay in our code). */
function tokenProblem(err: unknown): HttpProblem {
  if (err instanceof errors.JWTExpired) return unauthenticated('Token expired', 'The bearer token has expired; get a new one.', 'The token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    return unauthenticated('Invalid token', `The token's "${err.claim}" claim is missing or not what this API expects.`, `The ${err.claim} claim is missing or invalid`);
  }
  // A timeout, a network error, a non-200 or an unusable key set: the provider's keys are unavailable.
  // (Node's own network errors: not JOSE errors; jose's generic error: a bad HTTP answer from the provider.)
  const keysUnavailable = err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError) || err.constructor === errors.JOSEError;
  if (keysUnavailable) {
    // The identity provider's key set could not be fetched: our problem, not the token's.
    return new HttpProblem(503, 'auth-unavailable', 'Authentication temporarily unavailable', 'The identity provider\'s keys could not be fetched; try again shortly.', {}, { 'Retry-After': '5' });
  }
  if (err instanceof errors.JWKSNoMatchingKey) return unauthenticated('Invalid token', 'No current key of the identity provider matches the token.', 'No matching key');
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthenticated('Invalid token', 'The token is signed with an algorithm this API does not accept.', 'Algorithm not accepted');
  return unauthenticated('Invalid token', 'The bearer token is invalid.', 'The token is malformed or its signature does not verify');
}

/**
 * Requires a valid token: `Authorization: Bearer <JWT>`, or, when `cookie` is named, that cookie
 * (what a browser sends on its own, e.g. the Temporal Web UI calling the codec endpoint).
 */
export function authenticate(options: AuthOptions & { cookie?: string }): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    const bearer = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header ?? '')?.[1];
    if (header !== undefined && !bearer) {
      throw new HttpProblem(401, 'unauthenticated', 'Authentication required', 'Send a bearer token: Authorization: Bearer <JWT>.', {}, challenge('invalid_request', 'Expected Authorization: Bearer <JWT>'));
    }
    const token = bearer ?? (options.cookie ? cookieOf(req.get('cookie'), options.cookie) : undefined);
    if (!token) throw new HttpProblem(401, 'unauthenticated', 'Authentication required', 'Send a bearer token: Authorization: Bearer <JWT>.', {}, challenge());
    res.locals.principal = await verifyAccessToken(token, options);
    next();
  };
}

/** After authenticate: only callers whose token has `role` get through (403 otherwise). */
export function requireRole(role: string): RequestHandler {
  return (_req, res, next) => {
    if (!principalOf(res).roles.includes(role)) throw new HttpProblem(403, 'forbidden', 'Forbidden', `This needs the "${role}" role.`, {}, challenge('insufficient_scope', `Needs the ${role} role`));
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

/** Issues an HS256 token the embedded default accepts (`npm run token` and the tests; production tokens come from your IdP). */
export function signAccessToken(options: { secret: string; issuer: string; audience: string; subject: string; roles?: string[]; region?: string; ttl?: string }): Promise<string> {
  return new SignJWT({ roles: options.roles ?? [], ...(options.region ? { region: options.region } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setExpirationTime(options.ttl ?? '8h')
    .sign(new TextEncoder().encode(options.secret));
}
