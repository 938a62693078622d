/**
 * Never a 2xx for a lost event: while Temporal is down the receiver answers 503, the provider
 * retries with backoff, and once Temporal is back the retry lands and the saga completes.
 * This file runs its own dev server on a database file, so it can stop and restart it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orderWorkflowId } from '../../src/contracts/order';
import { stopProcess } from '../../scripts/lib/processes';
import { startDevServer } from '../support/dev-server';
import { eventually } from '../support/eventually';
import { testEnv } from '../support/env';
import { freePort } from '../support/ports';
import { ORDER_BODY, getOrder, json, newCustomer, postOrder, startStack, type Stack } from '../support/stack';

let dir: string;
let port: number;
let server: ChildProcess;
let stack: Stack;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-outage-'));
  port = await freePort();
  server = (await startDevServer({ port, dbFile: join(dir, 'temporal.db') })).child;
  stack = await startStack({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  if (server) await stopProcess(server);
  rmSync(dir, { recursive: true, force: true });
});

test('an event that arrives while Temporal is down gets a 503, and the provider’s retry lands it once Temporal is back', async () => {
  const customer = newCustomer();
  await stack.receiveWebhooksFor(customer);
  const id = orderWorkflowId(customer, 'outage');
  expect((await postOrder(stack, customer, 'outage', { ...ORDER_BODY, paymentMethod: { token: 'tok_asyncSilent' } }, { prefer: 'respond-async' })).status).toBe(202);
  const chargeId = await eventually(async () => (await stack.sims.ledger('payments', id)).find((e) => e.op === 'charge')?.ref);
  // Wait until the saga is waiting for the payment, then take Temporal away.
  await eventually(async () => ((await json(await getOrder(stack, customer, 'outage'))).steps?.[1]?.state === 'running' ? true : undefined));
  await stopProcess(server);

  const payments = testEnv().paymentsUrl;
  await stack.sims.sendPaymentEvent(chargeId, 'payment.succeeded', 'evt_during_outage');
  const deliveries = async () => (await json(await fetch(`${payments}/_sim/webhooks/deliveries?reference=${encodeURIComponent(id)}`))).deliveries as { status: number; attempt: number }[];
  await eventually(async () => ((await deliveries()).length >= 2 ? true : undefined), 10_000);
  // Refused while Temporal is away (a 503, or no answer in time on a busy machine): never a 2xx.
  expect((await deliveries()).map((d) => d.status)).toEqual(expect.arrayContaining([503]));
  expect((await deliveries()).filter((d) => typeof d.status === 'number' && d.status < 300)).toEqual([]);

  server = (await startDevServer({ port, dbFile: join(dir, 'temporal.db') })).child;
  const done = await eventually(async () => {
    const body = await json(await getOrder(stack, customer, 'outage'));
    return body.status === 'completed' ? body : undefined;
  }, 40_000, 250);
  expect(done.events).toEqual([expect.objectContaining({ eventId: 'evt_during_outage', effect: 'applied' })]);
  const statuses = (await deliveries()).map((d) => d.status);
  expect(statuses.at(-1)).toBe(200);
  expect(statuses.filter((s) => s === 200)).toHaveLength(1);
  expect((await stack.sims.ledger('payments', id)).map((e) => e.op)).toEqual(['charge']);
}, 90_000);
