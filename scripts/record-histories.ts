/**
 * Records the replay fixtures in test/histories/ from real runs: with `npm start` running, run
 * `npm run histories:record`. It places orders that go every way a saga can go (completed,
 * declined and compensated, paid by webhook, parked then aborted by an operator, refunded), waits
 * for each to settle, and exports each history (payloads decrypted). Re-record after a workflow
 * change only together with a `patched()` that keeps the old fixtures replaying.
 */
import { randomUUID } from 'node:crypto';
import { signAccessToken } from '../src/api/middleware/auth';
import { loadConfig } from '../src/config';
import { orderWorkflowId } from '../src/contracts/order';
import { refundWorkflowId } from '../src/contracts/refund';
import { createClient } from '../src/temporal/connection';
import { payloadCodec } from '../src/temporal/codec';
import { exportHistory } from './export-history';
import { localJwtSecret, localPayloadKeys } from './lib/local';
import { waitUntil } from './lib/processes';

const api = `http://127.0.0.1:${process.env.PORT ?? 3000}`;
const ORDER = { items: [{ sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '49.00' }], currency: 'USD', paymentMethod: { token: 'tok_visa' } };

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, JWT_SECRET: localJwtSecret(), PAYLOAD_KEYS: localPayloadKeys() });
  const auth = { secret: config.JWT_SECRET!, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
  const customer = `fixture-${randomUUID().slice(0, 6)}`;
  const token = await signAccessToken({ ...auth, subject: customer });
  const support = await signAccessToken({ ...auth, subject: 'fixture-support', roles: ['support'] });
  const call = (path: string, body: unknown, headers: Record<string, string> = {}, bearer = token) =>
    fetch(`${api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const statusOf = async (path: string) => (await (await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string };
  const settled = (path: string, status: string) => waitUntil(async () => (await statusOf(path)).status === status, 60_000, `${path} to be ${status}`);

  await call('/v1/orders', ORDER, { 'idempotency-key': 'completed' });
  await call('/v1/orders', { ...ORDER, paymentMethod: { token: 'tok_chargeDeclined' } }, { 'idempotency-key': 'declined' });
  await call('/v1/orders', { ...ORDER, paymentMethod: { token: 'tok_async' } }, { 'idempotency-key': 'webhook' });
  await call('/v1/orders', { ...ORDER, items: [{ sku: 'course-v1:Retired+2020', quantity: 1, unitPrice: '49.00' }] }, { 'idempotency-key': 'parked', prefer: 'respond-async' });
  await settled('/v1/orders/parked', 'needs_attention');
  await call(`/v1/admin/transactions/${encodeURIComponent(orderWorkflowId(customer, 'parked'))}/decisions`, { action: 'abort', reason: 'fixture: course retired' }, {}, support);
  await call('/v1/orders/completed/refunds', { reason: 'fixture' }, { 'idempotency-key': 'refund-1' });
  await Promise.all([
    settled('/v1/orders/completed', 'completed'),
    settled('/v1/orders/declined', 'compensated'),
    settled('/v1/orders/webhook', 'completed'),
    settled('/v1/orders/parked', 'compensated'),
    settled('/v1/orders/completed/refund', 'completed'),
  ]);

  const client = await createClient(config);
  const codec = payloadCodec(config);
  try {
    for (const [name, id] of [
      ['order-completed', orderWorkflowId(customer, 'completed')],
      ['order-declined-compensated', orderWorkflowId(customer, 'declined')],
      ['order-paid-by-webhook', orderWorkflowId(customer, 'webhook')],
      ['order-parked-then-aborted', orderWorkflowId(customer, 'parked')],
      ['refund-completed', refundWorkflowId(customer, 'completed')],
    ] as const) {
      console.log(`wrote ${await exportHistory(client, codec, id, name)}`);
    }
  } finally {
    await client.connection.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
