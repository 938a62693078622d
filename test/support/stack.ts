/**
 * The whole system for an integration test, on real parts: the shared dev server and simulators
 * from global-setup, real workers (in this process, on a task-queue prefix of their own) and the
 * real API on port 0. Tests talk HTTP to the API and read the simulators' ledgers.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { DestinationStream } from 'pino';
import Stripe from 'stripe';
import { createActivities } from '../../src/activities';
import { createApp } from '../../src/api/app';
import { createHistory } from '../../src/api/history-setup';
import { signAccessToken } from '../../src/api/middleware/auth';
import { openApiDocument } from '../../src/api/openapi';
import { answerClientErrorsAsProblems } from '../../src/api/problem';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createMetrics, serveMetrics } from '../../src/metrics';
import { dataConverter } from '../../src/temporal/codec';
import { createClient, createNativeConnection } from '../../src/temporal/connection';
import { clientInterceptors } from '../../src/temporal/interceptors';
import { installContext, setupTracing } from '../../src/tracing';
import { activityLimits, createDownstreamClients, createWorkers } from '../../src/worker';
import { checkResponsesAgainst } from './contract';
import { testEnv } from './env';
import { uniquePrefix, withWorkers } from './workers';

export type SimName = 'legacy' | 'payments' | 'fulfilment';

/** The payment provider signs with the first; the coordinator also accepts the second (a rotation in progress). */
export const PAYMENTS_WEBHOOK_SECRETS = ['whsec_test_current', 'whsec_test_previous'];
/** Standard Webhooks secrets for the `fulfilment` partner source (base64 key material, `whsec_` prefix). */
export const STANDARD_WEBHOOK_SECRETS = [`whsec_${Buffer.from('fulfilment-partner-current-key!!').toString('base64')}`];

export interface Effect {
  op: string;
  idempotencyKey: string;
  ref: string;
  at: string;
  requestId?: string;
  traceparent?: string;
}

/** What a stack observes: off unless asked for. */
export interface StackOptions {
  /** Every log line of the API and the workers (level debug, JSON, one per line); silent without. */
  logs?: DestinationStream;
  /** Traces: spans of the edge, the client, workflows, activities and downstream calls go here. */
  spanProcessor?: SpanProcessor;
  /** Prometheus metrics: GET /metrics on the API, and on a worker listener on a free port. */
  metrics?: boolean;
}

export interface Stack {
  url: string;
  /** Points the payments simulator's webhooks for this customer's transactions at this stack. */
  receiveWebhooksFor(customerId: string, secret?: string): Promise<void>;
  client: Client;
  config: Config;
  token(customerId: string, roles?: string[], region?: string): Promise<string>;
  sims: Simulators;
  /** The scrape targets, with `metrics: true`. */
  metricsUrls?: { api: string; worker: string };
  stop(): Promise<void>;
}

export interface Simulators {
  url(name: SimName): string;
  /** Effects whose idempotency key starts with `keyPrefix` (a workflow ID, or `order:<customer>:`). */
  ledger(name: SimName, keyPrefix: string): Promise<Effect[]>;
  /** Adds a fault rule and returns a function that removes exactly that rule. */
  fault(name: SimName, rule: Record<string, unknown>): Promise<() => Promise<void>>;
  /** The fault rules still in force on a simulator (one with `times` leaves once used up). */
  faults(name: SimName): Promise<Record<string, unknown>[]>;
  /** The payments simulator settles a pending charge and delivers (and retries) its event, as the processor would. */
  sendPaymentEvent(chargeId: string, type: string, eventId?: string): Promise<void>;
  /** The payments simulator settles a pending charge and sends nothing: for an event a test signs and posts itself. */
  settleCharge(chargeId: string, status: 'succeeded' | 'failed'): Promise<void>;
}

export function simulators(): Simulators {
  const env = testEnv();
  const urls: Record<SimName, string> = { legacy: env.legacyUrl, payments: env.paymentsUrl, fulfilment: env.fulfilmentUrl };
  return {
    url: (name) => urls[name],
    async ledger(name, keyPrefix) {
      const res = await fetch(`${urls[name]}/_sim/ledger`);
      const { effects } = (await res.json()) as { effects: Effect[] };
      return effects.filter((e) => e.idempotencyKey.startsWith(keyPrefix));
    },
    async faults(name) {
      return ((await (await fetch(`${urls[name]}/_sim/faults`)).json()) as { faults: Record<string, unknown>[] }).faults;
    },
    async sendPaymentEvent(chargeId, type, eventId) {
      const res = await fetch(`${urls.payments}/_sim/webhooks/send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ chargeId, type, eventId }) });
      if (res.status !== 202) throw new Error(`webhook not sent: ${res.status} ${await res.text()}`);
    },
    async settleCharge(chargeId, status) {
      const res = await fetch(`${urls.payments}/_sim/charges/settle`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ chargeId, status }) });
      if (res.status !== 200) throw new Error(`charge not settled: ${res.status} ${await res.text()}`);
    },
    async fault(name, rule) {
      const res = await fetch(`${urls[name]}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
      if (res.status !== 201) throw new Error(`fault rejected: ${res.status} ${await res.text()}`);
      const { id } = (await res.json()) as { id: number };
      return async () => {
        await fetch(`${urls[name]}/_sim/faults/${id}`, { method: 'DELETE' });
      };
    },
  };
}

/** Starts workers for `WORKER_QUEUES` (all by default; `WORKER_QUEUES: ''` runs none: Temporal only records starts) and the API. */
export async function startStack(overrides: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const runsWorkers = overrides.WORKER_QUEUES !== '';
  const env = testEnv();
  const config = loadConfig({
    ...env.temporalEnv, // the address; on the cluster also the namespace and the mTLS files
    LEGACY_URL: env.legacyUrl,
    PAYMENTS_URL: env.paymentsUrl,
    FULFILMENT_URL: env.fulfilmentUrl,
    TASK_QUEUE_PREFIX: uniquePrefix('it'),
    JWT_SECRET: randomUUID() + randomUUID(),
    PAYLOAD_KEYS: env.payloadKeys, // payloads encrypted, as under npm start
    DOWNSTREAM_TIMEOUT_MS: '1000',
    PAYMENTS_WEBHOOK_SECRETS: PAYMENTS_WEBHOOK_SECRETS.join(','),
    STANDARD_WEBHOOK_SECRETS: JSON.stringify({ fulfilment: STANDARD_WEBHOOK_SECRETS.join(',') }),
    LEGACY_API_KEYS: 'sk_test_current',
    PAYMENTS_API_KEYS: 'sk_test_current',
    FULFILMENT_API_KEYS: 'sk_test_current',
    LOG_LEVEL: 'silent',
    // The suite runs both ways: FAST_PATH=false npm test takes every forward step through its queue.
    FAST_PATH: process.env.FAST_PATH,
    // Generous: tests (and the fuzzer) send many requests from one IP; rate-limit tests set their own.
    RATE_LIMIT_PER_IP: '100000',
    RATE_LIMIT_COMMANDS_PER_CUSTOMER: '100000',
    RATE_LIMIT_READS_PER_CUSTOMER: '100000',
    RATE_LIMIT_WEBHOOKS_PER_SOURCE: '100000',
    ...overrides,
    ...(overrides.WORKER_QUEUES === '' ? { WORKER_QUEUES: undefined } : {}),
  });
  installContext();
  const tracing = options.spanProcessor ? setupTracing('saga-coordinator-test', { spanProcessor: options.spanProcessor }) : undefined;
  const workerMetrics = options.metrics ? createMetrics() : undefined;
  const apiMetrics = options.metrics ? createMetrics() : undefined;
  const logLevel = options.logs ? 'debug' : 'silent';
  const workerLogger = createLogger(logLevel, 'test-worker', options.logs);
  const client = await createClient(config, clientInterceptors(tracing));
  const connection = await createNativeConnection(config);
  const downstream = createDownstreamClients(config, workerLogger, workerMetrics);
  const workers = !runsWorkers ? [] : await createWorkers({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueuePrefix: config.TASK_QUEUE_PREFIX,
    roles: config.WORKER_QUEUES,
    activities: createActivities(downstream),
    limits: activityLimits(config),
    workflowBundle: { codePath: env.bundlePath },
    dataConverter: dataConverter(config),
    observability: { metrics: workerMetrics, tracing, logger: options.logs ? workerLogger : undefined },
  });
  const workerMetricsServer = workerMetrics ? await serveMetrics({ registry: workerMetrics.registry, host: '127.0.0.1', port: 0 }) : undefined;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const workersDone = withWorkers(workers, () => released);

  const logger = createLogger(logLevel, 'test-api', options.logs);
  const history = createHistory(config, client, logger, apiMetrics);
  const app = createApp({ client, config, logger, history: history.history, metrics: apiMetrics, tracing });
  const server = app.listen(0, '127.0.0.1');
  answerClientErrorsAsProblems(server);
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Every answer a test receives from this API is checked against the OpenAPI document.
  const stopChecking = checkResponsesAgainst(url, openApiDocument({ history: true, paymentsWebhook: config.PAYMENTS_WEBHOOK_SECRETS.length > 0, codec: config.PAYLOAD_KEYS.length > 0, metrics: Boolean(apiMetrics) }) as never);

  return {
    url,
    async receiveWebhooksFor(customerId, secret = PAYMENTS_WEBHOOK_SECRETS[0]!) {
      const res = await fetch(`${env.paymentsUrl}/_sim/webhooks/endpoints`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${url}/v1/webhooks/payments`, secret, referencePrefix: `order:${encodeURIComponent(customerId)}:` }),
      });
      if (res.status !== 201) throw new Error(`webhook endpoint rejected: ${res.status}`);
    },
    client,
    config,
    token: (customerId, roles = [], region) => signAccessToken({ secret: config.JWT_SECRET!, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, subject: customerId, roles, region }),
    sims: simulators(),
    metricsUrls: workerMetricsServer ? { api: `${url}/metrics`, worker: workerMetricsServer.url } : undefined,
    async stop() {
      workerMetricsServer?.server.close();
      stopChecking();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      release();
      await history.stopWatching();
      await history.legacy.http.close();
      await workersDone;
      await Promise.all(Object.values(downstream).map((c) => c.http.close()));
      await connection.close();
      await client.connection.close();
      await tracing?.shutdown();
    },
  };
}

/** A request to the support (admin) API, as `as` (default: a support operator) with `roles`. */
export async function adminRequest(stack: Pick<Stack, 'url' | 'token'>, path: string, init: RequestInit & { as?: string; roles?: string[] } = {}): Promise<Response> {
  const token = await stack.token(init.as ?? 'ann-support', init.roles ?? ['support']);
  return fetch(`${stack.url}/v1/admin${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

/** Support's decision (retry, skip, abort) on a parked transaction, through the admin API. */
export function decideOn(stack: Pick<Stack, 'url' | 'token'>, workflowId: string, body: unknown, as?: string): Promise<Response> {
  return adminRequest(stack, `/transactions/${encodeURIComponent(workflowId)}/decisions`, { method: 'POST', body: JSON.stringify(body), as });
}

/** A Stripe-shaped payment event about a charge that names our reference, as the processor sends it. */
export function paymentEvent(id: string, type: string, chargeId: string, reference: string): Json {
  return { id, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object: { id: chargeId, object: 'charge', metadata: { reference } } } };
}

/** POSTs a payment event to the API, signed as the provider would (or with another secret, or at another time). */
export function postPaymentEvent(stack: Pick<Stack, 'url'>, event: unknown, { secret = PAYMENTS_WEBHOOK_SECRETS[0]!, timestamp }: { secret?: string; timestamp?: number } = {}): Promise<Response> {
  const payload = JSON.stringify(event);
  const header = new Stripe('sk_test_unused').webhooks.generateTestHeaderString({ payload, secret, timestamp });
  return fetch(`${stack.url}/v1/webhooks/payments`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload });
}

/** A customer ID no other test uses, so its ledger entries are its own. */
export function newCustomer(label = 'cust'): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export const ORDER_BODY = {
  items: [{ sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '49.00' }],
  currency: 'USD',
  paymentMethod: { token: 'tok_visa' },
};

/** POSTs JSON to the API as `customerId`. */
export async function postOrder(stack: Stack, customerId: string, key: string | undefined, body: unknown = ORDER_BODY, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.url}/v1/orders`, {
    method: 'POST',
    signal,
    headers: {
      authorization: `Bearer ${await stack.token(customerId)}`,
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function getOrder(stack: Stack, customerId: string, key: string): Promise<Response> {
  return fetch(`${stack.url}/v1/orders/${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${await stack.token(customerId)}` } });
}

/** POSTs a refund request for an order as `customerId`. */
export async function postRefund(stack: Stack, customerId: string, orderKey: string, key: string, body: unknown = { reason: 'changed my mind' }, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.url}/v1/orders/${encodeURIComponent(orderKey)}/refunds`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await stack.token(customerId)}`, 'content-type': 'application/json', 'idempotency-key': key, ...headers },
    body: JSON.stringify(body),
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted on field by field
export type Json = Record<string, any>;

/** The parsed JSON body of an API answer. */
export async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}
