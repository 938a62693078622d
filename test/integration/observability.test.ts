/**
 * Seeing it work, on real parts: one request ID from the edge into the saga's memo and status,
 * every downstream call (as the simulators recorded it) and the log lines of the API and the
 * worker; one trace from the edge through the workflow and each activity to each downstream call,
 * compensation included (spans into an in-memory exporter); metrics on both /metrics endpoints;
 * and no secret or payment token in any log line.
 */
import { randomUUID } from 'node:crypto';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { AddressInfo } from 'node:net';
import { orderWorkflowId } from '../../src/contracts/order';
import { createLogger } from '../../src/logger';
import { createLegacyEcommerceSim } from '../../sim/legacy-ecommerce';
import { eventually } from '../support/eventually';
import { ORDER_BODY, getOrder, json, newCustomer, postOrder, startStack, type Effect, type Json, type Stack } from '../support/stack';

const lines: Json[] = [];
const raw: string[] = [];
const exporter = new InMemorySpanExporter();
let stack: Stack;

beforeAll(async () => {
  const logs = {
    write(line: string) {
      raw.push(line);
      lines.push(JSON.parse(line) as Json);
    },
  };
  stack = await startStack({}, { logs, spanProcessor: new SimpleSpanProcessor(exporter), metrics: true });
});
afterAll(async () => {
  await stack?.stop();
});

async function effects(workflowId: string): Promise<Effect[]> {
  const all = await Promise.all((['legacy', 'payments', 'fulfilment'] as const).map((sim) => stack.sims.ledger(sim, `${workflowId}/`)));
  return all.flat();
}

test('one request ID travels from POST /v1/orders to the status, the memo, every downstream effect and the API and worker logs', async () => {
  const customer = newCustomer('rid');
  const requestId = `req-${randomUUID()}`;
  const res = await postOrder(stack, customer, 'order-rid', ORDER_BODY, { 'x-request-id': requestId });
  expect(res.status).toBe(201);
  expect(res.headers.get('x-request-id')).toBe(requestId);
  const workflowId = orderWorkflowId(customer, 'order-rid');

  expect(await json(await getOrder(stack, customer, 'order-rid'))).toMatchObject({ transactionId: workflowId, requestId });
  const { memo } = await stack.client.workflow.getHandle(workflowId).describe();
  expect(memo).toMatchObject({ requestId });

  const downstream = await effects(workflowId);
  expect(downstream.map((e) => e.op).sort()).toEqual(['charge', 'complete', 'create', 'grant']);
  for (const effect of downstream) expect(effect).toMatchObject({ requestId, traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/) });

  const api = lines.filter((l) => l.name === 'test-api' && l.requestId === requestId);
  expect(api).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'request completed', res: expect.objectContaining({ statusCode: 201 }) })]));
  const worker = await eventually(async () => {
    const found = lines.filter((l) => l.name === 'test-worker' && l.requestId === requestId && l.msg === 'activity completed');
    return found.length === 4 ? found : undefined;
  });
  const { runId } = await stack.client.workflow.getHandle(workflowId).describe();
  expect(worker.map((l) => l.activity).sort()).toEqual(['chargePayment', 'completeOrder', 'createOrder', 'grantAccess']);
  for (const line of worker) expect(line).toMatchObject({ workflowId, runId, attempt: 1, trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
});

test('a simulator logs each call with the caller\'s request ID, and keeps it and the traceparent with the effect', async () => {
  const simLines: Json[] = [];
  const sim = createLegacyEcommerceSim({ apiKeys: ['sk_sim'], logger: createLogger('info', 'sim:legacy', { write: (l: string) => void simLines.push(JSON.parse(l) as Json) }) });
  const server = sim.listen(0);
  await new Promise((r) => server.once('listening', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const res = await fetch(`${url}/api/v2/orders`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_sim', 'content-type': 'application/json', 'idempotency-key': 'k-1', 'x-request-id': 'req-sim-1', traceparent },
      body: JSON.stringify({ customer_id: 'c', reference: 'r-1', currency: 'USD', lines: [{ sku: 's', qty: 1, unit_price_cents: '100' }] }),
    });
    expect(res.status).toBe(201);
    expect(simLines).toEqual([expect.objectContaining({ requestId: 'req-sim-1', method: 'POST', path: '/api/v2/orders', status: 201, msg: 'call' })]);
    expect(sim.ledger).toEqual([expect.objectContaining({ op: 'create', idempotencyKey: 'k-1', requestId: 'req-sim-1', traceparent })]);
    expect(JSON.stringify(simLines)).not.toContain('sk_sim');
  } finally {
    server.close();
  }
});

test('a malformed X-Request-Id is replaced by a generated one', async () => {
  const res = await postOrder(stack, newCustomer('rid'), 'bad-rid', ORDER_BODY, { 'x-request-id': 'has spaces and <tags>' });
  expect(res.status).toBe(201);
  expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
});

test('one trace spans the edge, the workflow, each activity and each downstream call, compensation included', async () => {
  const customer = newCustomer('trace');
  const res = await postOrder(stack, customer, 'declined', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } });
  expect(res.status).toBe(422);
  const workflowId = orderWorkflowId(customer, 'declined');

  // Workflow spans reach the exporter through a sink once the run closes.
  const spans = await eventually(async () => {
    const edge = exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/orders' && s.attributes['saga.request_id'] === res.headers.get('x-request-id'));
    const trace = edge && exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === edge.spanContext().traceId);
    return trace?.some((s) => s.name === 'RunWorkflow:orderSaga') && trace.some((s) => s.name === 'RunActivity:cancelOrder') ? trace : undefined;
  });
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const parent = (s: ReadableSpan) => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);
  const ancestors = (s: ReadableSpan) => {
    const names: string[] = [];
    for (let p = parent(s); p; p = parent(p)) names.push(p.name);
    return names;
  };
  const one = (name: string) => {
    const found = spans.filter((s) => s.name === name);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  // edge → client start → workflow run → activity start → activity run → downstream call
  expect(ancestors(one('RunWorkflow:orderSaga'))).toEqual(['StartWorkflow:orderSaga', 'POST /v1/orders']);
  for (const activity of ['createOrder', 'chargePayment', 'cancelOrder']) {
    expect(ancestors(one(`RunActivity:${activity}`))).toEqual([`StartActivity:${activity}`, 'RunWorkflow:orderSaga', 'StartWorkflow:orderSaga', 'POST /v1/orders']);
  }
  const calls = spans.filter((s) => s.attributes['url.full'] !== undefined);
  const callsOf = (activity: string) => calls.filter((c) => parent(c)?.name === `RunActivity:${activity}`).map((c) => `${c.attributes['http.request.method']} ${c.attributes['url.path']} ${c.attributes['http.response.status_code']}`);
  expect(callsOf('createOrder')).toEqual(['POST /api/v2/orders 201']);
  expect(callsOf('chargePayment')).toEqual(['POST /v1/charges 402']);
  expect(callsOf('cancelOrder')).toEqual([expect.stringMatching(/^GET \/api\/v2\/orders 200$/), expect.stringMatching(/^POST \/api\/v2\/orders\/EC-\d+\/cancel 200$/)]);
  expect(calls.every((c) => c.parentSpanId && parent(c)?.name.startsWith('RunActivity:'))).toBe(true);

  // The downstreams saw the same trace: each effect's traceparent names the call's span.
  const legacy = await stack.sims.ledger('legacy', `${workflowId}/`);
  expect(legacy.map((e) => e.op)).toEqual(['create', 'cancel']);
  for (const effect of legacy) {
    const [, traceId, spanId] = effect.traceparent!.split('-');
    expect(traceId).toBe(spans[0]!.spanContext().traceId);
    expect(calls.map((c) => c.spanContext().spanId)).toContain(spanId);
  }
});

/** One sample's value from a Prometheus text exposition. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const set = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (wanted.every((w) => set.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('GET /metrics on the API and on the worker count requests, outcomes, steps, compensations, breakers, webhooks and history reads', async () => {
  // After the tests above: completed and compensated orders, in this stack's own registries.
  const reader = newCustomer('hist');
  const historyUrl = `${stack.url}/v1/orders?page=1&pageSize=5`;
  const auth = { authorization: `Bearer ${await stack.token(reader)}` };
  expect((await fetch(historyUrl, { headers: auth })).status).toBe(200); // from legacy
  expect((await fetch(historyUrl, { headers: auth })).status).toBe(200); // from the cache
  expect((await fetch(`${stack.url}/v1/webhooks/payments`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: '{}' })).status).toBe(400);
  const api = await (await fetch(stack.metricsUrls!.api)).text();
  expect(sample(api, 'saga_order_history_reads_total', { result: 'miss' })).toBe(1);
  expect(sample(api, 'saga_order_history_reads_total', { result: 'hit' })).toBe(1);
  expect(sample(api, 'saga_webhook_deliveries_total', { source: 'payments', result: 'rejected' })).toBe(1);
  expect(sample(api, 'saga_http_request_duration_seconds_count', { method: 'GET', route: '/v1/orders', status_code: '200' })).toBe(2);
  expect(sample(api, 'saga_http_request_duration_seconds_count', { method: 'POST', route: '/v1/orders', status_code: '201' })).toBeGreaterThanOrEqual(2);
  expect(sample(api, 'saga_http_request_duration_seconds_count', { method: 'GET', route: '/v1/orders/:idempotencyKey', status_code: '200' })).toBeGreaterThanOrEqual(1);
  expect(sample(api, 'saga_transactions_parked', { kind: 'order' })).toBe(0);
  expect(sample(api, 'saga_circuit_breaker_state', { downstream: 'legacy-ecommerce', state: 'closed' })).toBe(1);
  expect(api).not.toMatch(/order:|cust-|rid-|trace-/); // no customer, key or workflow ID in any label

  const worker = await eventually(async () => {
    const text = await (await fetch(stack.metricsUrls!.worker)).text();
    return sample(text, 'saga_transactions_settled_total', { kind: 'order', outcome: 'compensated' }) === 1 ? text : undefined;
  });
  expect(sample(worker, 'saga_transactions_settled_total', { kind: 'order', outcome: 'completed' })).toBe(2);
  expect(sample(worker, 'saga_transactions_started_total', { kind: 'order' })).toBe(3);
  expect(sample(worker, 'saga_activity_duration_seconds_count', { downstream: 'payments', activity: 'chargePayment', kind: 'step', outcome: 'error' })).toBe(1);
  expect(sample(worker, 'saga_activity_duration_seconds_count', { downstream: 'legacy-ecommerce', activity: 'cancelOrder', kind: 'compensation', outcome: 'ok' })).toBe(1);
  expect(sample(worker, 'saga_circuit_breaker_state', { downstream: 'payments', state: 'closed' })).toBe(1);
  expect(worker).not.toMatch(/order:|cust-|rid-|trace-/);
});

test('a saga parked for an operator shows in saga_transactions_parked, counted from Temporal at scrape time', async () => {
  const customer = newCustomer('park');
  const workflowId = orderWorkflowId(customer, 'parked');
  // Access refused for good after the money moved: the saga parks for an operator.
  const clear = await stack.sims.fault('fulfilment', { op: 'grant', idempotencyKeyPrefix: workflowId, errorRate: 1, status: 403 });
  try {
    expect((await postOrder(stack, customer, 'parked', ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);
    const parked = await eventually(async () => {
      const text = await (await fetch(stack.metricsUrls!.api)).text();
      return sample(text, 'saga_transactions_parked', { kind: 'order' }) === 1 ? text : undefined;
    }, 30_000);
    expect(sample(parked, 'saga_transactions_parked', { kind: 'refund' })).toBe(0);
    expect(await json(await getOrder(stack, customer, 'parked'))).toMatchObject({ status: 'needs_attention', parked: { step: 'grantAccess' } });
  } finally {
    await clear();
  }
});

test('no log line carries a payment token, a bearer credential or an API key', async () => {
  const customer = newCustomer('secret');
  const token = await stack.token(customer);
  // A good order, a declined one, a malformed body with a token in it, and a forged bearer token.
  await postOrder(stack, customer, 'secret-1');
  await postOrder(stack, customer, 'secret-2', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } });
  await postOrder(stack, customer, 'secret-3', { ...ORDER_BODY, currency: 'not a currency', paymentMethod: { token: 'tok_visa' } });
  await fetch(`${stack.url}/v1/orders`, { method: 'POST', headers: { authorization: 'Bearer forged.jwt.value', 'content-type': 'application/json', 'idempotency-key': 'x' }, body: JSON.stringify(ORDER_BODY) });
  await eventually(async () => (lines.some((l) => l.workflowId === orderWorkflowId(customer, 'secret-2') && l.activity === 'cancelOrder') ? true : undefined));

  expect(raw.length).toBeGreaterThan(20);
  const all = raw.join('');
  expect(all).toContain('[redacted]'); // the authorization headers were there, and were redacted
  for (const secret of ['tok_visa', 'tok_chargeDeclined', token, 'forged.jwt.value', 'sk_test_current', stack.config.JWT_SECRET!]) {
    expect(all).not.toContain(secret);
  }
  expect(all).not.toMatch(/Bearer (?!error=)/); // only the challenge in WWW-Authenticate, never a credential
});
