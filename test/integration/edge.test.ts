/**
 * The edge on the open internet: what it refuses, and how. Every refusal is problem+json and
 * leaves every ledger untouched; each known defect found by fuzzing has its regression test here.
 */
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { SignJWT } from 'jose';
import { Webhook } from 'standardwebhooks';
import { lateEventWorkflowId, orderWorkflowId, taskQueues, type OrderSagaInput } from '../../src/contracts/order';
import { ORDER_BODY, PAYMENTS_WEBHOOK_SECRETS, STANDARD_WEBHOOK_SECRETS, getOrder, json, newCustomer, postOrder, postPaymentEvent as postPaymentEventTo, startStack, type SimName, type Stack } from '../support/stack';

let stack: Stack;
let limited: Stack; // tiny rate limits and an MFE origin
beforeAll(async () => {
  [stack, limited] = await Promise.all([
    startStack(),
    startStack({
      WORKER_QUEUES: '',
      RATE_LIMIT_PER_IP: '1000',
      RATE_LIMIT_COMMANDS_PER_CUSTOMER: '2',
      RATE_LIMIT_READS_PER_CUSTOMER: '3',
      RATE_LIMIT_WEBHOOKS_PER_SOURCE: '2',
      MFE_CORS_ORIGINS: 'https://shop.example.com',
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), limited?.stop()]);
});

const SIMS: SimName[] = ['legacy', 'payments', 'fulfilment'];
async function effectsOf(customer: string): Promise<number> {
  const counts = await Promise.all(SIMS.map(async (s) => (await stack.sims.ledger(s, `order:${encodeURIComponent(customer)}:`)).length));
  return counts.reduce((a, b) => a + b, 0);
}

async function expectProblem(res: Response, status: number, slug: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = await json(res);
  expect(body.type).toBe(`urn:saga-coordinator:problem:${slug}`);
  return body;
}

describe('order totals the edge accepts are totals everything downstream can hold', () => {
  test('an order whose total exceeds what Money holds is a 400 before anything starts', async () => {
    const customer = newCustomer();
    const huge = { ...ORDER_BODY, items: [{ sku: 'course-v1:DemoX+2026', quantity: 93, unitPrice: '5284555.47' }] };
    const body = await expectProblem(await postOrder(stack, customer, 'huge', huge), 400, 'invalid-body');
    expect(body.errors).toEqual([{ pointer: '#/items', detail: expect.stringContaining('9999999.99') }]);
    await expectProblem(await getOrder(stack, customer, 'huge'), 404, 'never-received');
    expect(await effectsOf(customer)).toBe(0);
  });

  test('a zero-price order is a 400 at the edge: no legacy order is created and cancelled', async () => {
    const customer = newCustomer();
    const free = { ...ORDER_BODY, items: [{ sku: 'course-v1:DemoX+2026', quantity: 3, unitPrice: '0.00' }] };
    const body = await expectProblem(await postOrder(stack, customer, 'free', free), 400, 'invalid-body');
    expect(body.errors[0].detail).toContain('0.01');
    expect(await effectsOf(customer)).toBe(0);
  });

  test('one SKU on two lines (at two prices) is a 400 before anything starts: it would be charged twice and granted once', async () => {
    const customer = newCustomer();
    const twice = { ...ORDER_BODY, items: [{ sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '49.00' }, { sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '1.00' }] };
    const body = await expectProblem(await postOrder(stack, customer, 'twice', twice), 400, 'invalid-body');
    expect(body.errors).toEqual([{ pointer: '#/items/1/sku', detail: expect.stringContaining('quantity') }]);
    await expectProblem(await getOrder(stack, customer, 'twice'), 404, 'never-received');
    expect(await effectsOf(customer)).toBe(0);
  });

  test('a recorded result our schema no longer accepts (a total from before the bound) is still answered, not a 500', async () => {
    const customer = newCustomer();
    const key = 'legacy-total';
    // Started behind the edge's back, as an order accepted before the bound would have been.
    const input: OrderSagaInput = {
      customerId: customer,
      idempotencyKey: key,
      order: { ...ORDER_BODY, currency: 'USD', items: [{ sku: 'course-v1:DemoX+2026', quantity: 93, unitPrice: '5284555.47' }] },
      fingerprint: 'f',
      startToken: 't',
      requestId: 'r',
      receivedAt: new Date().toISOString(),
    };
    await stack.client.workflow.execute('orderSaga', { taskQueue: taskQueues(stack.config.TASK_QUEUE_PREFIX).orders, workflowId: orderWorkflowId(customer, key), args: [input] });
    const res = await getOrder(stack, customer, key);
    expect(res.status).toBe(200);
    const status = await json(res);
    expect(status).toMatchObject({ status: 'completed', order: { total: { amount: '491463658.71', currency: 'USD' } } });
    // The same key again replays the outcome, also without a 500.
    const replay = await postOrder(stack, customer, key, input.order);
    expect(replay.status).not.toBeGreaterThanOrEqual(500);
  });

  test("a declined payment's problem never carries the payment provider's own words", async () => {
    const customer = newCustomer();
    const res = await postOrder(stack, customer, 'declined', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } });
    const body = await expectProblem(res, 422, 'transaction-failed');
    expect(body.reason).toBe('PaymentDeclined');
    expect(JSON.stringify(body)).not.toContain('Your card was declined');
    expect(JSON.stringify(await json(await getOrder(stack, customer, 'declined')))).not.toContain('Your card was declined');
  });
});

test('an HS256 token without exp (the embedded default) is refused: every token expires', async () => {
  const { JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE } = stack.config;
  const forever = await new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256' }).setSubject(newCustomer()).setIssuer(JWT_ISSUER).setAudience(JWT_AUDIENCE).setIssuedAt().sign(new TextEncoder().encode(JWT_SECRET));
  const res = await fetch(`${stack.url}/v1/orders/any`, { headers: { authorization: `Bearer ${forever}` } });
  await expectProblem(res, 401, 'unauthenticated');
  expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token", error_description="The exp claim/);
});

test('a key sent in the quoted (structured-field) form names the same status resource, quoted or not', async () => {
  const customer = newCustomer();
  expect((await postOrder(stack, customer, '"quoted-1"')).status).toBe(201);
  for (const path of ['quoted-1', '%22quoted-1%22']) {
    const res = await fetch(`${stack.url}/v1/orders/${path}`, { headers: { authorization: `Bearer ${await stack.token(customer)}` } });
    expect(res.status).toBe(200);
    expect((await json(res)).idempotencyKey).toBe('quoted-1');
  }
});

describe('requests the edge cannot read are 4xx problems, not 500s, and start nothing', () => {
  test.each([
    ['gzip', gzipSync(JSON.stringify(ORDER_BODY))],
    ['br', brotliCompressSync(JSON.stringify(ORDER_BODY))],
  ])('a body with Content-Encoding: %s is a 415', async (encoding, body) => {
    const customer = newCustomer();
    const res = await fetch(`${stack.url}/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await stack.token(customer)}`, 'content-type': 'application/json', 'content-encoding': encoding, 'idempotency-key': 'zipped' },
      body,
    });
    await expectProblem(res, 415, 'unsupported-media-type');
    await expectProblem(await getOrder(stack, customer, 'zipped'), 404, 'never-received');
  });

  test('a body that is not application/json is a 415', async () => {
    const token = await stack.token(newCustomer());
    const res = await fetch(`${stack.url}/v1/orders`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'idempotency-key': 'k' }, body: 'hello' });
    await expectProblem(res, 415, 'unsupported-media-type');
  });

  test('a body that is not UTF-8 is a 415, and nothing starts (it would be recorded with U+FFFD for its bytes)', async () => {
    const customer = newCustomer();
    const body = Buffer.concat([Buffer.from('{"items":[{"sku":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","quantity":1,"unitPrice":"49.00"}],"currency":"USD","paymentMethod":{"token":"tok_visa"}}')]);
    const res = await fetch(`${stack.url}/v1/orders`, { method: 'POST', headers: { authorization: `Bearer ${await stack.token(customer)}`, 'content-type': 'application/json', 'idempotency-key': 'not-utf8' }, body });
    await expectProblem(res, 415, 'unsupported-media-type');
    await expectProblem(await getOrder(stack, customer, 'not-utf8'), 404, 'never-received');
  });

  test('a malformed percent-encoding in a path is a 400', async () => {
    const token = await stack.token(newCustomer());
    for (const path of ['/v1/orders/%zz', '/v1/orders/%E0%A4%A/refund']) {
      await expectProblem(await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${token}` } }), 400, 'bad-request');
    }
  });

  test('a valid customer and Idempotency-Key whose identifier Temporal refuses (over its length limit) is a 400, not a 503 for ever', async () => {
    // Both within the edge's own bounds (a 128-character subject, a 255-character key), but each
    // character percent-encoded in the workflow ID: over 1,000 bytes.
    const customer = `${'|'.repeat(100)}${newCustomer()}`.slice(0, 128);
    const key = '%'.repeat(255);
    expect(orderWorkflowId(customer, key).length).toBeGreaterThan(1000);
    for (let i = 0; i < 2; i++) {
      const res = await postOrder(stack, customer, key);
      expect(res.headers.get('retry-after')).toBeNull();
      await expectProblem(res, 400, 'idempotency-key-invalid');
    }
    await expectProblem(await getOrder(stack, customer, key), 404, 'never-received');
    // Nothing reached any downstream.
    expect(await stack.sims.ledger('legacy', orderWorkflowId(customer, key).slice(0, 40))).toEqual([]);
  });

  /** Sends bytes on a raw socket and reads the whole answer (the server closes after it); `keepOpen`: do not half-close first (`Connection: close` ends it). */
  function raw(request: string, keepOpen = false): Promise<string> {
    const { hostname, port } = new URL(stack.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => (keepOpen ? socket.write(request) : socket.end(request)));
      let answer = '';
      socket.on('data', (d) => (answer += d.toString('latin1')));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });
  }

  test.each([
    ['a control character in a header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n', 400, 'bad-request'],
    ['a 20 KB header', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers-too-large'],
    ['a garbage request line', 'HELLO THERE\r\n\r\n', 400, 'bad-request'],
  ])("Node's own refusals are problem+json too: %s", async (_name, request, status, slug) => {
    const answer = await raw(request);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(body!)).toMatchObject({ type: `urn:saga-coordinator:problem:${slug}`, status });
  });

  test('a refund POST with no body at all (no Content-Length, as curl -X POST sends it) is a refund, not a 415', async () => {
    const customer = newCustomer();
    expect((await postOrder(stack, customer, 'bodiless-refund')).status).toBe(201);
    const answer = await raw(`POST /v1/orders/bodiless-refund/refunds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await stack.token(customer)}\r\nIdempotency-Key: refund-1\r\nConnection: close\r\n\r\n`, true);
    expect(answer).toMatch(/^HTTP\/1.1 201 /);
  });

  test("a query parameter the support list does not know (a page token, a misspelt filter) is a 400, not silently ignored", async () => {
    const staff = await stack.token('ann-support', ['support']);
    for (const query of ['pageToken=%25%25garbage', 'stauts=needs_attention']) {
      await expectProblem(await fetch(`${stack.url}/v1/admin/transactions?${query}`, { headers: { authorization: `Bearer ${staff}` } }), 400, 'invalid-query');
    }
  });
});

describe('webhooks', () => {
  const postPaymentEvent = (event: object, timestamp?: number) => postPaymentEventTo(stack, event, { timestamp });
  const event = (id: string, reference: string) => ({ id, object: 'event', type: 'payment.succeeded', data: { object: { id: 'ch_1', object: 'charge', metadata: { reference } } } });

  test('a correctly signed event whose body is not UTF-8 is a 400 that says so, not a signature failure', async () => {
    const t = Math.floor(Date.now() / 1000);
    const body = Buffer.concat([Buffer.from(JSON.stringify(event('evt_bytes', 'order:x:y')).slice(0, -1)), Buffer.from(',"note":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const v1 = createHmac('sha256', PAYMENTS_WEBHOOK_SECRETS[0]!).update(Buffer.concat([Buffer.from(`${t}.`), body])).digest('hex');
    const res = await fetch(`${stack.url}/v1/webhooks/payments`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${v1}` }, body });
    await expectProblem(res, 400, 'invalid-webhook-payload');
  });

  test('a signed event whose ID is 1,500 characters is a permanent 400, and nothing is recorded', async () => {
    const id = `evt_${'x'.repeat(1_496)}`;
    const res = await postPaymentEvent(event(id, orderWorkflowId(newCustomer(), 'gone')));
    await expectProblem(res, 400, 'invalid-webhook-payload');
    // The same for a partner's webhook-id.
    const wh = new Webhook(STANDARD_WEBHOOK_SECRETS[0]!);
    const payload = JSON.stringify({ type: 'enrolment.updated', data: { reference: 'order:x:y' } });
    const now = new Date();
    const signature = wh.sign(id, now, payload);
    const partner = await fetch(`${stack.url}/v1/webhooks/fulfilment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signature },
      body: payload,
    });
    await expectProblem(partner, 400, 'invalid-webhook-payload');
    await expect(stack.client.workflow.getHandle(lateEventWorkflowId('payments', id.slice(0, 255))).describe()).rejects.toThrow();
  });

  test('a timestamp beyond the tolerance is refused both ways: a year old, or a year ahead', async () => {
    const year = 365 * 24 * 3600;
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of [now - year, now + year]) {
      await expectProblem(await postPaymentEvent(event(`evt_t${timestamp}`, orderWorkflowId(newCustomer(), 'k')), timestamp), 400, 'invalid-webhook-signature');
    }
    // Within the tolerance either way is fine (clocks differ).
    const near = await postPaymentEvent(event(`evt_near${now}`, orderWorkflowId(newCustomer(), 'k')), now + 60);
    expect(near.status).toBe(200);
  });
});

describe('rate limits, headers and CORS', () => {
  test('commands and reads are limited per customer: 429 problem with Retry-After and RateLimit headers', async () => {
    const customer = newCustomer();
    const token = await limited.token(customer);
    const read = () => fetch(`${limited.url}/v1/orders/nope`, { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 3; i++) {
      const res = await read();
      expect(res.status).toBe(404);
      expect(res.headers.get('ratelimit')).toMatch(/"customer-reads"; r=\d+; t=\d+/);
    }
    const over = await read();
    const body = await expectProblem(over, 429, 'rate-limited');
    expect(body.policy).toBe('customer-reads');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.headers.get('ratelimit-policy')).toMatch(/"customer-reads"; q=3; w=60/);

    // Commands are counted apart from reads, and customers apart from each other.
    const command = (who: string) => postOrder(limited, who, undefined);
    await expectProblem(await command(customer), 400, 'idempotency-key-missing');
    await expectProblem(await command(customer), 400, 'idempotency-key-missing');
    await expectProblem(await command(customer), 429, 'rate-limited');
    await expectProblem(await command(newCustomer()), 400, 'idempotency-key-missing');
  });

  test('webhooks are limited per source', async () => {
    const post = (source: string) => fetch(`${limited.url}/v1/webhooks/${source}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await expectProblem(await post('fulfilment'), 400, 'invalid-webhook-signature');
    await expectProblem(await post('fulfilment'), 400, 'invalid-webhook-signature');
    await expectProblem(await post('fulfilment'), 429, 'rate-limited');
    await expectProblem(await post('acme'), 404, 'unknown-webhook-source');
  });

  test('the per-IP limit applies before authentication', async () => {
    const tight = await startStack({ WORKER_QUEUES: '', RATE_LIMIT_PER_IP: '2' });
    try {
      for (let i = 0; i < 2; i++) expect((await fetch(`${tight.url}/v1/orders/x`)).status).toBe(401);
      const body = await expectProblem(await fetch(`${tight.url}/v1/orders/x`), 429, 'rate-limited');
      expect(body.policy).toBe('ip');
    } finally {
      await tight.stop();
    }
  });

  test("helmet's headers are on every answer, and only configured MFE origins may call the customer routes", async () => {
    const health = await fetch(`${limited.url}/healthz`);
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');
    expect(health.headers.get('content-security-policy')).toContain("default-src 'self'");
    const preflight = (origin: string) =>
      fetch(`${limited.url}/v1/orders`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' } });
    const allowed = await preflight('https://shop.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/Idempotency-Key/i);
    const other = await preflight('https://evil.example.net');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
