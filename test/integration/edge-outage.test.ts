/**
 * When Temporal hangs, the edge does not: every call it makes to Temporal has a deadline, and the
 * answer is a 503 problem with Retry-After whose text says truthfully what is known — for a
 * command, that it may or may not have been recorded (look the key up, or retry with it: safe).
 * This file runs its own dev server so it can freeze it (SIGSTOP) and thaw it (SIGCONT).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orderWorkflowId } from '../../src/contracts/order';
import { stopProcess } from '../../scripts/lib/processes';
import { startDevServer } from '../support/dev-server';
import { eventually } from '../support/eventually';
import { freePort } from '../support/ports';
import { ORDER_BODY, getOrder, json, newCustomer, postOrder, postRefund, startStack, type Stack } from '../support/stack';

let dir: string;
let server: ChildProcess;
let stack: Stack;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-edge-outage-'));
  const port = await freePort();
  server = (await startDevServer({ port, dbFile: join(dir, 'temporal.db') })).child;
  stack = await startStack({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
}, 60_000);
afterAll(async () => {
  if (server?.signalCode === null) server.kill('SIGCONT');
  await stack?.stop();
  if (server) await stopProcess(server);
  rmSync(dir, { recursive: true, force: true });
});

test('with Temporal frozen, commands and reads answer 503 + Retry-After within seconds, and never claim nothing was recorded', async () => {
  const customer = newCustomer();
  expect((await postOrder(stack, customer, 'before')).status).toBe(201); // warm: the connection is up
  server.kill('SIGSTOP');
  try {
    // Frozen for certain before the edge is asked: a direct call to this dev server no longer answers.
    await eventually(async () => {
      const answered = await stack.client.withDeadline(Date.now() + 500, () => stack.client.workflowService.getSystemInfo({})).then(() => true, () => false);
      return answered ? undefined : true;
    }, 10_000);
    const t0 = Date.now();
    const post = await postOrder(stack, customer, 'frozen', undefined, { prefer: 'respond-async' });
    const postMs = Date.now() - t0;
    expect(post.status).toBe(503);
    expect(post.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(post.headers.get('content-type')).toContain('application/problem+json');
    const problem = await json(post);
    expect(problem.type).toBe('urn:saga-coordinator:problem:coordinator-unavailable');
    expect(problem.detail).toContain('may or may not');
    expect(problem.detail).not.toMatch(/nothing was recorded/i);
    expect(post.headers.get('location')).toBe('/v1/orders/frozen');
    expect(postMs).toBeLessThan(30_000); // bounded by the deadline, not by Temporal coming back

    const get = await getOrder(stack, customer, 'before');
    expect(get.status).toBe(503);
    expect(get.headers.get('retry-after')).toMatch(/^\d+$/);

    // A refund's command too says where to look (before: a bare 503; its order could not be read, nothing was recorded).
    const refund = await postRefund(stack, customer, 'before', 'refund-frozen');
    expect(refund.status).toBe(503);
    expect(refund.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refund.headers.get('location')).toBe('/v1/orders/before/refund');

    // Support's list too (it hung for as long as Temporal was frozen).
    const staff = await stack.token('ann-support', ['support']);
    const t1 = Date.now();
    const list = await fetch(`${stack.url}/v1/admin/transactions?status=needs_attention`, { headers: { authorization: `Bearer ${staff}` } });
    expect(list.status).toBe(503);
    expect(list.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(Date.now() - t1).toBeLessThan(30_000);
  } finally {
    server.kill('SIGCONT');
  }
  // Thawed: the key is looked up (recorded or never received), and a retry with it is safe.
  const retried = await eventually(async () => {
    const res = await postOrder(stack, customer, 'frozen');
    return res.status === 201 || res.status === 409 ? res : undefined;
  }, 60_000);
  expect([201, 409]).toContain(retried.status);
  await eventually(async () => ((await json(await getOrder(stack, customer, 'frozen'))).status === 'completed' ? true : undefined), 30_000);
  expect((await stack.sims.ledger('payments', `${orderWorkflowId(customer, 'frozen')}/`)).map((e) => e.op)).toEqual(['charge']);
}, 120_000);

test('a synchronous POST whose wait spans a restart of Temporal still answers when its wait runs out: 202 with Location, never silence', async () => {
  const customer = newCustomer();
  // A course the fulfilment service refuses: the order parks for support and never settles by itself.
  const body = { ...ORDER_BODY, items: [{ ...ORDER_BODY.items[0]!, sku: 'course-v1:RetiredX+2019' }] };
  const started = Date.now();
  const answer = postOrder(stack, customer, 'restart-mid-wait', body, {}, AbortSignal.timeout(45_000)).then((res) => ({ res, ms: Date.now() - started }), (err: unknown) => ({ err, ms: Date.now() - started }));
  await eventually(async () => ((await stack.client.workflow.getHandle(orderWorkflowId(customer, 'restart-mid-wait')).describe().catch(() => undefined)) ? true : undefined), 10_000);
  // Temporal dies and comes back on the same database while the POST waits for the outcome.
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGKILL');
  await exited;
  server = (await startDevServer({ port: Number(stack.config.TEMPORAL_ADDRESS.split(':').pop()), dbFile: join(dir, 'temporal.db') })).child;
  const settled = await answer;
  // Before: the long poll never gave up after the connection broke, and the POST got no answer at all.
  expect('res' in settled ? settled.res.status : String(settled.err)).toBe(202);
  if ('res' in settled) expect(settled.res.headers.get('location')).toBe('/v1/orders/restart-mid-wait');
  expect(settled.ms).toBeLessThan(30_000); // the edge's own wait (10 s), and a restart
  // The long poll the edge stopped listening to still runs in the SDK: end the parked saga so it returns
  // before this file's client closes (a call still polling then fails in the next file's time).
  await stack.client.workflow.getHandle(orderWorkflowId(customer, 'restart-mid-wait')).terminate('test over');
}, 90_000);
