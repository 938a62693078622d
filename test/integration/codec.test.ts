/**
 * Encrypted payloads end to end: an order placed through the real API leaves only ciphertext in
 * Temporal's history, and the codec endpoint decodes it for support staff only, and for the Web
 * UI's origin only.
 */
import { temporal } from '@temporalio/proto';
import { orderWorkflowId } from '../../src/contracts/order';
import { CODEC_SESSION_COOKIE } from '../../src/api/routes/codec';
import { ORDER_BODY, json, newCustomer, postOrder, startStack, type Json, type Stack } from '../support/stack';

const UI_ORIGIN = 'http://127.0.0.1:8233';
type JsonPayload = { metadata: Record<string, string>; data: string };

let stack: Stack;
let history: temporal.api.history.v1.IHistory;
let failedHistory: temporal.api.history.v1.IHistory;

/** Places an order, waits for its saga to close, and returns its raw history: as the server stores it and the Web UI receives it, no codec on this path. */
async function placeAndFetchHistory(customer: string, key: string, body: unknown, status: number): Promise<temporal.api.history.v1.IHistory> {
  expect((await postOrder(stack, customer, key, body)).status).toBe(status);
  const workflowId = orderWorkflowId(customer, key);
  await stack.client.workflow.getHandle(workflowId).result().catch(() => undefined);
  const { history } = await stack.client.workflowService.getWorkflowExecutionHistory({ namespace: stack.config.TEMPORAL_NAMESPACE, execution: { workflowId } });
  return history!;
}

beforeAll(async () => {
  stack = await startStack();
  const customer = newCustomer();
  history = await placeAndFetchHistory(customer, 'encrypted-1', ORDER_BODY, 201);
  failedHistory = await placeAndFetchHistory(customer, 'encrypted-2', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } }, 422);
});
afterAll(async () => {
  await stack?.stop();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const toJson = (p: temporal.api.common.v1.IPayload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

function startedInput(): temporal.api.common.v1.IPayload {
  const started = history.events!.find((e) => e.workflowExecutionStartedEventAttributes)!;
  return started.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
}

async function codec(operation: 'decode' | 'encode', payloads: JsonPayload[], headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.url}/codec/${operation}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, body: JSON.stringify({ payloads }) });
}

const bearer = async (roles: string[]) => ({ authorization: `Bearer ${await stack.token('staff-1', roles)}` });

test('no customer data is in clear text anywhere in the history of a completed or a compensated order', () => {
  for (const h of [history, failedHistory]) {
    const raw = Buffer.from(temporal.api.history.v1.History.encode(h).finish());
    for (const secret of ['tok_visa', 'tok_chargeDeclined', ORDER_BODY.items[0]!.sku, '49.00']) expect(raw.includes(secret)).toBe(false);
  }
  const keyId = stack.config.PAYLOAD_KEYS[0]!.id;
  expect(unb64(toJson(startedInput()).metadata.encoding!)).toBe('binary/encrypted');
  expect(unb64(toJson(startedInput()).metadata['encryption-key-id']!)).toBe(keyId);
});

test('a support token decodes the history payloads through /codec/decode', async () => {
  const res = await codec('decode', [toJson(startedInput())], await bearer(['support']));
  expect(res.status).toBe(200);
  const { payloads } = (await res.json()) as { payloads: JsonPayload[] };
  expect(payloads).toHaveLength(1);
  expect(unb64(payloads[0]!.metadata.encoding!)).toBe('json/plain');
  expect(JSON.parse(unb64(payloads[0]!.data))).toMatchObject({ order: { paymentMethod: { token: 'tok_visa' }, items: [{ sku: 'course-v1:DemoX+2026' }] } });
});

test('/codec/encode encrypts with the current key, and decode restores the payload', async () => {
  const plain = { metadata: { encoding: b64('json/plain') }, data: b64('{"note":"from the Web UI"}') };
  const auth = await bearer(['support']);
  const encoded = (await json(await codec('encode', [plain], auth))) as { payloads: JsonPayload[] };
  expect(unb64(encoded.payloads[0]!.metadata.encoding!)).toBe('binary/encrypted');
  const decoded = (await json(await codec('decode', encoded.payloads, auth))) as { payloads: JsonPayload[] };
  expect(decoded.payloads).toEqual([plain]);
});

test('without a token the codec answers 401, with a token lacking the support role 403', async () => {
  const anonymous = await codec('decode', [toJson(startedInput())]);
  expect(anonymous.status).toBe(401);
  expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await json(anonymous)).toMatchObject({ type: 'urn:saga-coordinator:problem:unauthenticated' });

  const customer = await codec('decode', [toJson(startedInput())], await bearer([]));
  expect(customer.status).toBe(403);
  expect(customer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem: Json = await json(customer);
  expect(problem).toMatchObject({ type: 'urn:saga-coordinator:problem:forbidden', status: 403 });
  expect(JSON.stringify(problem)).not.toContain('tok_visa');
});

test('a tampered payload is a 422 problem, not a crash', async () => {
  const tampered = toJson(startedInput());
  const data = Buffer.from(tampered.data, 'base64');
  data.writeUInt8(data.readUInt8(30) ^ 0x01, 30);
  const res = await codec('decode', [{ ...tampered, data: data.toString('base64') }], await bearer(['support']));
  expect(res.status).toBe(422);
  expect(await json(res)).toMatchObject({ type: 'urn:saga-coordinator:problem:payload-undecodable' });
});

test('a malformed body is a 400 that names the field', async () => {
  const res = await codec('decode', [{ metadata: { encoding: 'not base64!' }, data: '' }], await bearer(['support']));
  expect(res.status).toBe(400);
  expect((await json(res)).errors).toEqual([{ pointer: '#/payloads/0/metadata/encoding', detail: 'must be base64' }]);
});

describe('the Web UI in a browser', () => {
  const preflight = (origin: string) =>
    fetch(`${stack.url}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });

  test('a CORS preflight from the Web UI origin is allowed, with credentials', async () => {
    const res = await preflight(UI_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toBe('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
  });

  test('a CORS preflight from any other origin is not allowed', async () => {
    const res = await preflight('http://evil.example:8233');
    // Without Access-Control-Allow-Origin the browser neither sends the request nor shows any answer to that page.
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('signing in at /codec/session sets the cookie the UI then sends with "include cross-origin credentials"', async () => {
    const page = await fetch(`${stack.url}/codec/session`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post" action="session">');

    const token = await stack.token('staff-2', ['support']);
    const signIn = await fetch(`${stack.url}/codec/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^${CODEC_SESSION_COOKIE}=${token.replace(/\./g, '\\.')}; Path=/codec; Expires=.+; HttpOnly; SameSite=Strict$`));

    const res = await codec('decode', [toJson(startedInput())], { origin: UI_ORIGIN, cookie: cookie.split(';')[0]! });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(JSON.parse(unb64(((await res.json()) as { payloads: JsonPayload[] }).payloads[0]!.data))).toMatchObject({ order: { paymentMethod: { token: 'tok_visa' } } });
  });

  test('a token without the support role gets no session cookie', async () => {
    const token = await stack.token('someone', []);
    const res = await fetch(`${stack.url}/codec/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
  });
});
