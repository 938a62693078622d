/**
 * The clients' error classification and anti-corruption parsing, against the real simulators
 * with injected faults, as seen through the activities (MockActivityEnvironment).
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { z } from 'zod';
import { toApplicationFailure } from '../../src/activities/call-downstream';
import { DownstreamContractViolation, DownstreamRejected, DownstreamUnavailable } from '../../src/clients/errors';
import { createHttpClient } from '../../src/clients/http';
import { createPaymentsClient } from '../../src/clients/payments';
import { createDownstreamClients } from '../../src/worker';
import { loadConfig } from '../../src/config';
import { testEnv } from '../support/env';
import { eventually } from '../support/eventually';
import { newCustomer, simulators } from '../support/stack';

const env = testEnv();
const sims = simulators();
const config = loadConfig({
  LEGACY_URL: env.legacyUrl,
  PAYMENTS_URL: env.paymentsUrl,
  FULFILMENT_URL: env.fulfilmentUrl,
  PAYMENTS_API_KEYS: 'sk_test_current',
  DOWNSTREAM_TIMEOUT_MS: '500',
  // High enough that the failures these tests provoke never open the shared breaker.
  BREAKER_THRESHOLD: '50',
});
const clients = createDownstreamClients(config);
const activities = createActivities(clients);
// Expected activity failures are what these tests are about: log only errors.
const mock = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
afterAll(() => Promise.all(Object.values(clients).map((c) => c.http.close())));

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

function charge(reference: string, token = 'tok_visa') {
  return { reference, idempotencyKey: `${reference}/chargePayment`, requestId: 'r', amountMinor: 4900, currency: 'USD', token };
}

test('a decline is a non-retryable PaymentDeclined carrying the processor’s reason', async () => {
  const failure = await failureOf(mock.run(activities.payments.chargePayment, charge(`order:${newCustomer()}:k`, 'tok_chargeDeclined')));
  expect(failure).toMatchObject({ type: 'PaymentDeclined', nonRetryable: true });
  expect(failure.details?.[0]).toMatchObject({ service: 'payments', status: 402, code: 'card_declined' });
});

test('a 5xx is a retryable DownstreamUnavailable and the effect did not happen', async () => {
  const reference = `order:${newCustomer()}:k`;
  await sims.fault('payments', { op: 'charge', idempotencyKey: `${reference}/chargePayment`, errorRate: 1, times: 1 });
  const failure = await failureOf(mock.run(activities.payments.chargePayment, charge(reference)));
  expect(failure).toMatchObject({ type: 'DownstreamUnavailable', nonRetryable: false });
  expect(await sims.ledger('payments', reference)).toEqual([]);
});

test('a hang past the client timeout is retryable, and the retry with the same key gets the stored charge', async () => {
  const reference = `order:${newCustomer()}:k`;
  await sims.fault('payments', { op: 'charge', idempotencyKey: `${reference}/chargePayment`, timeoutRate: 1, times: 1 });
  const started = Date.now();
  const failure = await failureOf(mock.run(activities.payments.chargePayment, charge(reference)));
  expect(failure.type).toBe('DownstreamUnavailable');
  expect(Date.now() - started).toBeLessThan(5_000); // the client's 500 ms timeout fired, not the simulator's 60 s hang
  const retried = (await mock.run(activities.payments.chargePayment, charge(reference))) as { chargeId: string };
  const ledger = await sims.ledger('payments', reference);
  expect(ledger).toHaveLength(1);
  expect(retried.chargeId).toBe(ledger[0]!.ref);
});

test('a refund compensation registered before a charge that never happened finds nothing to refund', async () => {
  const reference = `order:${newCustomer()}:k`;
  expect(await mock.run(activities.payments.refundPayment, { reference, idempotencyKey: `${reference}/refundPayment`, requestId: 'r' })).toEqual({ outcome: 'not_charged' });
  await mock.run(activities.payments.chargePayment, charge(reference));
  expect(await mock.run(activities.payments.refundPayment, { reference, idempotencyKey: `${reference}/refundPayment`, requestId: 'r' })).toEqual({ outcome: 'refunded' });
  expect(await mock.run(activities.payments.refundPayment, { reference, idempotencyKey: `${reference}/refundPayment-2`, requestId: 'r' })).toEqual({ outcome: 'already_refunded' });
  expect((await sims.ledger('payments', reference)).map((e) => e.op)).toEqual(['charge', 'refund']);
});

test('a 2xx body that breaks the contract is a non-retryable failure naming the field', async () => {
  const http = createHttpClient({ service: 'payments', baseUrl: env.paymentsUrl });
  try {
    const err = await http.request({ method: 'GET', path: '/_sim/health', schema: z.object({ name: z.number() }) }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DownstreamContractViolation);
    expect(err).toMatchObject({ service: 'payments', field: 'name' });
    expect(toApplicationFailure(err, () => 'unused')).toMatchObject({ type: 'DownstreamContractViolation', nonRetryable: true });
  } finally {
    await http.close();
  }
});

test('the clients classify without Temporal too: 4xx rejected, connection refused unavailable', async () => {
  const err = await clients.payments.refund('ch_missing', { idempotencyKey: `refund-${newCustomer()}` }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DownstreamRejected);
  expect(err).toMatchObject({ status: 404, code: 'resource_missing' });
  const dead = createPaymentsClient({ baseUrl: 'http://127.0.0.1:9' });
  try {
    expect(await dead.findChargeByReference('x').then(() => undefined, (e: unknown) => e)).toBeInstanceOf(DownstreamUnavailable);
  } finally {
    await dead.http.close();
  }
});

describe('credentials', () => {
  test('our key refused is an operational fault (DownstreamAuthFailed, never the customer\'s rejection); during a rotation the client falls back to the key the downstream still knows', async () => {
    const wrong = createPaymentsClient({ baseUrl: env.paymentsUrl, credentials: ['sk_test_revoked'] });
    const rotating = createPaymentsClient({ baseUrl: env.paymentsUrl, credentials: ['sk_test_next', 'sk_test_current'] });
    try {
      const err = await wrong.findChargeByReference('x').then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ name: 'DownstreamAuthFailed', status: 401 });
      // Non-retryable for the activity so the saga hears of it at once and waits it out (workflows/saga.ts).
      expect(toApplicationFailure(err, () => 'PaymentRejected')).toMatchObject({ type: 'DownstreamAuthFailed', nonRetryable: true });
      await expect(rotating.findChargeByReference('x')).resolves.toBeUndefined();
    } finally {
      await Promise.all([wrong.http.close(), rotating.http.close()]);
    }
  });
});

describe('retry classes and the circuit breaker', () => {
  test('429 and 503 carry Retry-After into the next retry delay', async () => {
    for (const status of [429, 503]) {
      const reference = `order:${newCustomer()}:k`;
      await sims.fault('payments', { op: 'charge', idempotencyKey: `${reference}/chargePayment`, errorRate: 1, status, retryAfterSeconds: 7, times: 1 });
      const failure = await failureOf(mock.run(activities.payments.chargePayment, charge(reference)));
      expect(failure).toMatchObject({ type: 'DownstreamUnavailable', nonRetryable: false, nextRetryDelay: 7000 });
    }
  });

  test('a 4xx worth retrying (408, 409, 425, 429) is retried but never opens the breaker: one stuck key is not an outage', async () => {
    const changes: string[] = [];
    const client = createPaymentsClient({ baseUrl: env.paymentsUrl, credentials: ['sk_test_current'], breaker: { threshold: 2, halfOpenAfterMs: 10_000 }, onBreakerChange: (_service, state) => changes.push(state) });
    try {
      const reference = `stuck-${newCustomer()}`;
      for (const status of [408, 409, 425, 429]) {
        await sims.fault('payments', { op: 'list', urlContains: reference, errorRate: 1, status, times: 2 });
        for (let i = 0; i < 2; i++) expect(await client.findChargeByReference(reference).then(() => undefined, (e: unknown) => e)).toMatchObject({ status });
      }
      // Before: two 409s in a row opened it, and every other customer's call failed fast.
      expect(changes).toEqual([]);
      expect(await client.findChargeByReference(reference)).toBeUndefined();
    } finally {
      await client.http.close();
    }
  });

  test('an open breaker fails fast, tells the retrier when to come back, and closes after a good trial call', async () => {
    const changes: string[] = [];
    const client = createPaymentsClient({
      baseUrl: env.paymentsUrl,
      credentials: ['sk_test_current'],
      headersTimeoutMs: 300,
      breaker: { threshold: 2, halfOpenAfterMs: 1_000 },
      onBreakerChange: (_service, state) => changes.push(state),
    });
    try {
      // Every lookup hangs past the client's timeout: two timeouts open the breaker.
      const reference = `breaker-${newCustomer()}`;
      await sims.fault('payments', { op: 'list', urlContains: reference, timeoutRate: 1, times: 2 });
      for (let i = 0; i < 2; i++) expect(await client.findChargeByReference(reference).then(() => undefined, (e: unknown) => e)).toBeInstanceOf(DownstreamUnavailable);
      expect(changes).toEqual(['open']);

      const started = Date.now();
      const fast = await client.findChargeByReference('x').then(() => undefined, (e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(300); // failed before the downstream timeout: it was never called
      expect(fast).toBeInstanceOf(DownstreamUnavailable);
      expect((fast as DownstreamUnavailable).retryAfterMs).toBeGreaterThan(0);
      expect((fast as DownstreamUnavailable).retryAfterMs).toBeLessThanOrEqual(1_000);

      await eventually(async () => ((await client.findChargeByReference('x').then(() => 'ok', () => undefined)) === 'ok' ? true : undefined), 5_000, 200);
      expect(changes).toEqual(['open', 'half-open', 'closed']);
    } finally {
      await client.http.close();
    }
  });
});
