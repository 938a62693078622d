/**
 * Temporal's remote codec protocol, so the Web UI and CLI show decrypted payloads to support staff:
 * POST /codec/decode and /codec/encode take and give `{"payloads":[{"metadata":{k: base64}, "data": base64}]}`.
 * Only a token with the `support` role gets through, as a bearer header (CLI, a Web UI with SSO) or
 * as the cookie that GET/POST /codec/session sets (a Web UI without login sends only cookies);
 * CORS lets only the Web UI's origins read the answers.
 */
import cors from 'cors';
import express, { Router, type RequestHandler } from 'express';
import { decodeJwt } from 'jose';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { PayloadCodecError } from '../../temporal/codec';
import { parseBody, requireJson } from '../http-semantics';
import { authenticate, principalOf, requireRole, verifyAccessToken, type AuthOptions } from '../middleware/auth';
import { HttpProblem } from '../problem';

export interface CodecRoutesOptions {
  codec: PayloadCodec;
  auth: AuthOptions;
  /** Browser origins allowed to read codec answers: the Temporal Web UI. */
  corsOrigins: string[];
}

/** HttpOnly, so page scripts (the Web UI's included) never read the token; scoped to /codec. */
export const CODEC_SESSION_COOKIE = 'codec_session';
const SUPPORT = 'support';

const Base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
// Proto3 JSON of temporal.api.common.v1.Payload: every bytes field (metadata values, data) is base64.
const JsonPayload = z.object({ metadata: z.record(z.string(), Base64).nullish(), data: Base64.nullish() });
type JsonPayload = z.infer<typeof JsonPayload>;
export const CodecRequest = z.object({ payloads: z.array(JsonPayload) });

const fromJson = ({ metadata, data }: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(data ?? '', 'base64'),
});
const toJson = ({ metadata, data }: Payload) => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(data ?? []).toString('base64'),
});

const SIGN_IN_PAGE = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Codec sign-in · saga-coordinator</title>
<h1>Decoded payloads in the Temporal Web UI</h1>
<form method="post" action="session">
  <label>Support token <input name="token" type="password" autocomplete="off" required></label>
  <button>Sign in</button>
</form>
<p>A token with the <code>support</code> role: <code>npm run --silent token -- &lt;you&gt; --role support</code>.
Then, in the Web UI's codec server settings, choose <em>Use my browser setting</em>, enter this endpoint (ending in <code>/codec</code>)
and turn on <em>Include cross-origin credentials</em>.</p>
</html>
`;

export function codecRoutes({ codec, auth, corsOrigins }: CodecRoutesOptions): Router {
  const router = Router();
  // Preflights carry no credentials, so CORS answers them before any authentication.
  router.use('/codec', cors({ origin: corsOrigins, methods: ['POST'], allowedHeaders: ['Authorization', 'Content-Type', 'X-Namespace'], credentials: true, maxAge: 600 }));
  const supportOnly = [authenticate({ ...auth, cookie: CODEC_SESSION_COOKIE }), requireRole(SUPPORT)];

  const run = (operation: 'encode' | 'decode'): RequestHandler => async (req, res) => {
    requireJson(req);
    const { payloads } = parseBody(CodecRequest, req.body);
    let result: Payload[];
    try {
      result = await codec[operation](payloads.map(fromJson));
    } catch (err) {
      if (err instanceof PayloadCodecError) throw new HttpProblem(422, 'payload-undecodable', 'Payload cannot be decoded', err.message);
      throw err;
    }
    res.json({ payloads: result.map(toJson) });
  };
  router.post('/codec/decode', ...supportOnly, run('decode'));
  router.post('/codec/encode', ...supportOnly, run('encode'));

  router.get('/codec/session', (_req, res) => {
    res.set({ 'Content-Security-Policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'", 'Cache-Control': 'no-store' });
    res.type('html').send(SIGN_IN_PAGE);
  });
  // Turns a support token (a form field: browsers cannot be told to send a header) into the session cookie.
  const formToken: RequestHandler = async (req, res, next) => {
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    if (!token) throw new HttpProblem(401, 'unauthenticated', 'Authentication required', 'Send a support token in the `token` form field.', {}, { 'WWW-Authenticate': 'Bearer realm="saga-coordinator"' });
    res.locals.principal = await verifyAccessToken(token, auth);
    res.locals.token = token;
    next();
  };
  router.post('/codec/session', express.urlencoded({ extended: false, limit: '8kb' }), formToken, requireRole(SUPPORT), (req, res) => {
    const token = res.locals.token as string;
    const exp = decodeJwt(token).exp;
    const expires = exp ? new Date(exp * 1000) : undefined; // the cookie lives no longer than the token
    res.cookie(CODEC_SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/codec', expires });
    res.set('Cache-Control', 'no-store');
    res.type('text').send(`Signed in as ${principalOf(res).customerId}${expires ? ` until ${expires.toISOString()}` : ''}. In the Web UI's codec server settings: "Use my browser setting", this /codec endpoint, "Include cross-origin credentials".\n`);
  });
  return router;
}
