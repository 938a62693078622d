/**
 * Bearer tokens from an identity provider: the API verifies them against a JWKS endpoint served
 * here (RS256 and ES256 keys), with issuer, audience, `exp` required, a clock tolerance and `kid`
 * rotation; every refusal is a 401 problem with an RFC 6750 challenge that says why.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from 'jose';
import { json, newCustomer, startStack, type Stack } from '../support/stack';

const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'saga-api';

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyLike;
  jwk: JWK;
}
async function signingKey(kid: string, alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

let jwks: Server;
let published: SigningKey[] = [];
let fetches = 0;
let stack: Stack;
let rsa: SigningKey;
let ec: SigningKey;

beforeAll(async () => {
  [rsa, ec] = await Promise.all([signingKey('rsa-2026a', 'RS256'), signingKey('ec-2026a', 'ES256')]);
  published = [rsa, ec];
  jwks = createServer((_req, res) => {
    fetches++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  stack = await startStack({
    WORKER_QUEUES: '',
    JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    JWT_CLOCK_TOLERANCE_S: '30',
    JWT_JWKS_COOLDOWN_MS: '0', // a rotation is picked up at the first unknown kid
  });
});
afterAll(async () => {
  await stack?.stop();
  jwks?.closeAllConnections();
  await new Promise((r) => jwks?.close(r));
});

const now = () => Math.floor(Date.now() / 1000);

function token(key: SigningKey, claims: { iss?: string; aud?: string; sub?: string; exp?: number | null; nbf?: number; roles?: string[] } = {}): Promise<string> {
  const jwt = new SignJWT({ roles: claims.roles ?? [] })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setSubject(claims.sub ?? newCustomer())
    .setIssuedAt();
  if (claims.exp !== null) jwt.setExpirationTime(claims.exp ?? now() + 300);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt.sign(key.privateKey);
}

/** Any authenticated read: a key never used is a 404 once the token is accepted. */
const read = (bearer?: string) => fetch(`${stack.url}/v1/orders/never-used`, { headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` } });

async function expectRefused(res: Response, description: RegExp) {
  expect(res.status).toBe(401);
  expect((await json(res)).type).toBe('urn:saga-coordinator:problem:unauthenticated');
  const challenge = res.headers.get('www-authenticate')!;
  expect(challenge).toMatch(/^Bearer realm="saga-coordinator", error="invalid_token", error_description="[^"]+"$/);
  expect(challenge).toMatch(description);
}

test('RS256 and ES256 tokens from the identity provider are accepted', async () => {
  expect((await read(await token(rsa))).status).toBe(404);
  expect((await read(await token(ec))).status).toBe(404);
});

test('an HS256 token (the embedded default) is refused once a JWKS is configured', async () => {
  await expectRefused(await read(await stack.token(newCustomer())), /algorithm|key|signature/i);
});

test('wrong issuer, wrong audience and a token without exp are refused, each saying which claim', async () => {
  await expectRefused(await read(await token(rsa, { iss: 'https://evil.example.com/' })), /iss/);
  await expectRefused(await read(await token(rsa, { aud: 'someone-else' })), /aud/);
  await expectRefused(await read(await token(rsa, { exp: null })), /exp/);
});

test('clocks may differ by the tolerance, no more', async () => {
  expect((await read(await token(rsa, { exp: now() - 10 }))).status).toBe(404);
  expect((await read(await token(rsa, { nbf: now() + 10 }))).status).toBe(404);
  await expectRefused(await read(await token(rsa, { exp: now() - 120 })), /expired/);
  await expectRefused(await read(await token(rsa, { nbf: now() + 120 })), /nbf/);
});

test('a new key (kid) published by the provider is used without a restart; an unpublished one is refused', async () => {
  const next = await signingKey('rsa-2026b', 'RS256');
  await expectRefused(await read(await token(next)), /No matching key/i);
  const before = fetches;
  published = [next, rsa, ec];
  expect((await read(await token(next))).status).toBe(404);
  expect(fetches).toBeGreaterThan(before);
  // A token signed by a key that merely claims a published kid does not verify.
  const impostor = { ...(await signingKey('rsa-2026b', 'RS256')) };
  await expectRefused(await read(await token(impostor)), /signature/);
});

test('no token is a 401 challenge without an error; a malformed Authorization header is invalid_request', async () => {
  const none = await read();
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toBe('Bearer realm="saga-coordinator"');
  const basic = await fetch(`${stack.url}/v1/orders/x`, { headers: { authorization: 'Basic YWxpY2U6cHc=' } });
  expect(basic.status).toBe(401);
  expect(basic.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
});

test('a support token from the provider opens the admin API; a customer token is a 403 insufficient_scope', async () => {
  const support = await fetch(`${stack.url}/v1/admin/transactions/order:x:never`, { headers: { authorization: `Bearer ${await token(rsa, { roles: ['support'] })}` } });
  expect(support.status).toBe(404);
  expect((await json(support)).type).toBe('urn:saga-coordinator:problem:not-found');
  const customer = await fetch(`${stack.url}/v1/admin/transactions/order:x:y`, { headers: { authorization: `Bearer ${await token(ec)}` } });
  expect(customer.status).toBe(403);
  expect(customer.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
});

test('when the provider’s keys cannot be fetched, an unknown kid is a 503 with Retry-After, not a 401', async () => {
  const unknown = await signingKey('rsa-2027', 'RS256');
  jwks.closeAllConnections();
  await new Promise((r) => jwks.close(r));
  const res = await read(await token(unknown));
  expect(res.status).toBe(503);
  expect((await json(res)).type).toBe('urn:saga-coordinator:problem:auth-unavailable');
  expect(res.headers.get('retry-after')).toBe('5');
  // Keys already fetched still verify.
  expect((await read(await token(rsa))).status).toBe(404);
});
