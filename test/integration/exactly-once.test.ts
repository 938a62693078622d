/**
 * "Processed but unacknowledged" at both ends, and concurrency: whatever is lost or duplicated on
 * the way, every accepted transaction settles once and every ledger shows one effect per key.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { orderWorkflowId } from '../../src/contracts/order';
import { ROOT } from '../../scripts/lib/local';
import { firstJsonLine, stopProcess } from '../../scripts/lib/processes';
import { eventually } from '../support/eventually';
import { testEnv } from '../support/env';
import { ORDER_BODY, getOrder, json, newCustomer, postOrder, startStack, type Stack } from '../support/stack';
import { pressCliReset } from '../support/temporal-cli';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** The order completed, with exactly one effect per step in every downstream's ledger. */
async function expectCompletedOnce(stack: Stack, customer: string, key: string): Promise<void> {
  const id = orderWorkflowId(customer, key);
  expect((await settled(stack, customer, key)).status).toBe('completed');
  expect((await stack.sims.ledger('fulfilment', `${id}/`)).map((e) => e.op)).toEqual(['grant']);
  expect((await stack.sims.ledger('payments', `${id}/`)).map((e) => e.op)).toEqual(['charge']);
  expect((await stack.sims.ledger('legacy', `${id}/`)).map((e) => e.op)).toEqual(['create', 'complete']);
}

const settled = (stack: Stack, customer: string, key: string) =>
  eventually(async () => {
    const body = await json(await getOrder(stack, customer, key));
    return ['completed', 'compensated', 'failed'].includes(body.status) ? body : undefined;
  }, 30_000);

test('the caller disconnects before the answer: a retry with the same key gets the original outcome, one charge', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'lost-answer');
  await stack.sims.fault('fulfilment', { idempotencyKey: `${id}/grantAccess/1`, latencyMs: 1_500, times: 1 });
  const abort = new AbortController();
  const lost = fetch(`${stack.url}/v1/orders`, {
    method: 'POST',
    signal: abort.signal,
    headers: { authorization: `Bearer ${await stack.token(customer)}`, 'content-type': 'application/json', 'idempotency-key': 'lost-answer' },
    body: JSON.stringify(ORDER_BODY),
  }).catch((e: unknown) => e);
  await eventually(async () => ((await stack.sims.ledger('payments', id)).length === 1 ? true : undefined));
  abort.abort();
  expect((await lost) as Error).toMatchObject({ name: 'AbortError' });

  const retry = await postOrder(stack, customer, 'lost-answer');
  if (retry.status === 409) {
    expect(retry.headers.get('location')).toBe('/v1/orders/lost-answer');
    await settled(stack, customer, 'lost-answer');
  }
  const replay = retry.status === 409 ? await postOrder(stack, customer, 'lost-answer') : retry;
  expect(replay.status).toBe(201);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect((await json(replay)).order.orderNumber).toMatch(/^EC-/);
  expect(await stack.sims.ledger('payments', id)).toHaveLength(1);
});

/** Runs `fn` with the legacy service's cancel ignoring Idempotency-Key (its documented mode, as many legacy services do). */
async function withLegacyCancelNotDeduplicated(fn: () => Promise<void>): Promise<void> {
  const mode = (dedupe: boolean) => fetch(`${stack.sims.url('legacy')}/_sim/mode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dedupe }) });
  await mode(false);
  try {
    await fn();
  } finally {
    await mode(true);
  }
}

test('a legacy cancel that cannot dedupe is reconciled before it is re-issued: one cancellation', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'no-dedupe');
  await withLegacyCancelNotDeduplicated(async () => {
    // The cancel is performed, then its answer is lost; the retried activity must look before it cancels again.
    await stack.sims.fault('legacy', { op: 'cancel', idempotencyKey: `${id}/cancelOrder/1`, dropResponseRate: 1, times: 1 });
    const res = await postOrder(stack, customer, 'no-dedupe', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } });
    expect(res.status).toBe(422);
    expect((await json(res)).compensated[0]).toMatchObject({ compensation: 'cancelOrder', outcome: 'already_cancelled' });
  });
  expect((await stack.sims.ledger('legacy', id)).map((e) => e.op)).toEqual(['create', 'cancel']);
});

test('a legacy cancel that cannot dedupe and answers after our timeout is not sent again behind itself: one cancellation', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'no-dedupe-slow');
  await withLegacyCancelNotDeduplicated(async () => {
    // The first cancel is processed 2.5 s after it was sent: after the test stack's 1 s client timeout and the
    // 1 s before the retry, whose look still finds the order open.
    await stack.sims.fault('legacy', { op: 'cancel', idempotencyKey: `${id}/cancelOrder/1`, latencyMs: 2_500, times: 1 });
    const res = await postOrder(stack, customer, 'no-dedupe-slow', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } });
    expect(res.status).toBe(422);
    expect((await json(res)).compensated[0]).toMatchObject({ compensation: 'cancelOrder', outcome: 'already_cancelled' });
  });
  // Before: the retry looked, found the order still open, and cancelled it a second time under the same key.
  expect((await stack.sims.ledger('legacy', id)).map((e) => e.op)).toEqual(['create', 'cancel']);
});

test("support's reset of an order while its undo's legacy cancel (which cannot dedupe) is still on its way does not cancel it again: one cancellation", async () => {
  const customer = newCustomer();
  const key = 'no-dedupe-reset-mid-cancel';
  const id = orderWorkflowId(customer, key);
  await withLegacyCancelNotDeduplicated(async () => {
    // The undo's first cancel reaches the legacy service and is processed 3 s later (a slow legacy service) ...
    await stack.sims.fault('legacy', { op: 'cancel', idempotencyKey: `${id}/cancelOrder/1`, latencyMs: 3_000, times: 1 });
    expect((await postOrder(stack, customer, key, { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } }, { Prefer: 'respond-async' })).status).toBe(202);
    await eventually(async () => ((await stack.sims.faults('legacy')).some((f) => f.idempotencyKey === `${id}/cancelOrder/1`) ? undefined : true), 20_000, 50);
    const landsAt = Date.now() + 3_000;
    // ... and support presses the CLI's Reset meanwhile: the new run's undo is a new activity, at its first try.
    expect(await pressCliReset(stack.config, id, 'support: run it again')).toMatch(/Resetting workflow/);
    const settled = await eventually(async () => {
      const b = await json(await getOrder(stack, customer, key));
      return ['completed', 'compensated', 'failed'].includes(String(b.status)) ? b : undefined;
    }, 60_000);
    expect(settled.status).toBe('compensated');
    // The legacy service answers nothing about a request it is still processing: wait out the known delay of the first cancel.
    await new Promise((r) => setTimeout(r, Math.max(0, landsAt + 500 - Date.now())));
  });
  // Before: the new run's cancel found the order still open and cancelled it a second time under the same key.
  expect((await stack.sims.ledger('legacy', `${id}/`)).map((e) => `${e.op} ${e.idempotencyKey.slice(id.length + 1)}`)).toEqual(['create createOrder/1', 'cancel cancelOrder/1']);
});

test('a worker killed with SIGKILL mid-activity and started again: the saga finishes with one effect per key (queue path)', async () => {
  const env = testEnv();
  // The fast path off: grantAccess runs on the fulfilment queue, in the worker process killed here.
  const local = await startStack({ WORKER_QUEUES: 'orders,legacyEcommerce,payments', FAST_PATH: 'false' });
  const startWorker = async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'worker.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...env.temporalEnv, METRICS_PORT: '0', PAYLOAD_KEYS: env.payloadKeys, TASK_QUEUE_PREFIX: local.config.TASK_QUEUE_PREFIX, WORKER_QUEUES: 'fulfilment', FULFILMENT_URL: env.fulfilmentUrl, FULFILMENT_API_KEYS: local.config.FULFILMENT_API_KEYS.join(','), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await firstJsonLine(child, (v): v is { ready: string } => (v as { ready?: unknown })?.ready === 'worker');
    return child;
  };
  try {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, 'killed');
    await local.sims.fault('fulfilment', { idempotencyKey: `${id}/grantAccess/1`, latencyMs: 2_000, times: 1 });
    const worker = await startWorker();
    expect((await postOrder(local, customer, 'killed', ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);

    // Kill the worker while grantAccess is in flight (the simulator holds it, then commits anyway).
    const handle = local.client.workflow.getHandle(id);
    await eventually(async () => ((await handle.describe()).raw.pendingActivities?.some((a) => a.activityType?.name === 'grantAccess' && a.state === 2) ? true : undefined));
    worker.kill('SIGKILL');
    const restarted = await startWorker();
    try {
      await expectCompletedOnce(local, customer, 'killed');
    } finally {
      await stopProcess(restarted);
    }
  } finally {
    await local.stop();
  }
});

test('the workflow worker killed with SIGKILL mid-local-activity (fast path) and started again: one effect per key', async () => {
  const env = testEnv();
  // No worker in this process: one worker process serves every queue and runs the forward steps locally.
  const local = await startStack({ WORKER_QUEUES: '' });
  const startWorker = async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'worker.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...env.temporalEnv,
        METRICS_PORT: '0', // a free port: 9464 may be another worker's on a shared machine
        PAYLOAD_KEYS: env.payloadKeys,
        TASK_QUEUE_PREFIX: local.config.TASK_QUEUE_PREFIX,
        LEGACY_URL: env.legacyUrl,
        PAYMENTS_URL: env.paymentsUrl,
        FULFILMENT_URL: env.fulfilmentUrl,
        LEGACY_API_KEYS: 'sk_test_current',
        PAYMENTS_API_KEYS: 'sk_test_current',
        FULFILMENT_API_KEYS: 'sk_test_current',
        WORKFLOW_BUNDLE_PATH: env.bundlePath,
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await firstJsonLine(child, (v): v is { ready: string } => (v as { ready?: unknown })?.ready === 'worker', 60_000);
    return child;
  };
  try {
    const customer = newCustomer();
    const id = orderWorkflowId(customer, 'killed-fast');
    await local.sims.fault('fulfilment', { idempotencyKey: `${id}/grantAccess/1`, latencyMs: 2_000, times: 1 });
    const worker = await startWorker();
    expect((await postOrder(local, customer, 'killed-fast', ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);

    // The order is created and charged (locally, in one workflow task not yet completed) and the grant is held: kill.
    await eventually(async () => ((await local.sims.ledger('payments', `${id}/`)).length === 1 ? true : undefined));
    worker.kill('SIGKILL');
    const restarted = await startWorker();
    try {
      await expectCompletedOnce(local, customer, 'killed-fast');
    } finally {
      await stopProcess(restarted);
    }
  } finally {
    await local.stop();
  }
}, 90_000);

test('20 parallel POSTs with one key: one saga, one charge; every other answer is a 409 or the replayed outcome', async () => {
  const customer = newCustomer();
  const answers = await Promise.all(Array.from({ length: 20 }, () => postOrder(stack, customer, 'stampede')));
  const statuses = answers.map((r) => r.status);
  expect(statuses).toContain(201);
  const fresh = answers.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') !== 'true');
  expect(fresh).toHaveLength(1);
  for (const r of answers) if (r !== fresh[0]) expect([409, 201]).toContain(r.status);
  expect(await stack.sims.ledger('payments', orderWorkflowId(customer, 'stampede'))).toHaveLength(1);
});

test('20 parallel POSTs with 20 keys: 20 orders', async () => {
  const customer = newCustomer();
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => postOrder(stack, customer, `many-${i}`)));
  expect(answers.map((r) => r.status)).toEqual(Array(20).fill(201));
  expect(await stack.sims.ledger('payments', `order:${customer}:`)).toHaveLength(20);
});

test('a running step shows its attempts and last error while Temporal retries it', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'flaky');
  await stack.sims.fault('payments', { op: 'charge', idempotencyKey: `${id}/chargePayment/1`, errorRate: 1, times: 2 });
  expect((await postOrder(stack, customer, 'flaky', ORDER_BODY, { prefer: 'respond-async' })).status).toBe(202);
  const retrying = await eventually(async () => {
    const body = await json(await getOrder(stack, customer, 'flaky'));
    const step = body.steps?.find((s: { name: string }) => s.name === 'chargePayment');
    return step?.attempt >= 2 ? step : undefined;
  });
  expect(retrying).toMatchObject({ state: 'running' });
  expect(retrying.lastFailure).toMatch(/503/);
  expect((await settled(stack, customer, 'flaky')).status).toBe('completed');
  expect(await stack.sims.ledger('payments', id)).toHaveLength(1);
});

test("a step being undone shows its compensation's attempts and last error while Temporal retries it", async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'flaky-undo');
  // A declined charge is undone: the order's cancellation fails twice with an outage first.
  await stack.sims.fault('legacy', { op: 'list', urlContains: `reference=${encodeURIComponent(id)}`, errorRate: 1, times: 2 });
  expect((await postOrder(stack, customer, 'flaky-undo', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } }, { prefer: 'respond-async' })).status).toBe(202);
  const retrying = await eventually(async () => {
    const body = await json(await getOrder(stack, customer, 'flaky-undo'));
    const step = body.steps?.find((s: { name: string }) => s.name === 'createOrder');
    return step?.state === 'compensating' && step?.attempt >= 2 ? step : undefined;
  });
  // Before: only `compensating`, without the attempt or the failure Temporal was retrying on.
  expect(retrying.lastFailure).toMatch(/503/);
  expect((await settled(stack, customer, 'flaky-undo')).status).toBe('compensated');
});

test('with no worker running, a command is still accepted and its status still answered', async () => {
  const idle = await startStack({ WORKER_QUEUES: '' });
  try {
    const customer = newCustomer();
    const res = await postOrder(idle, customer, 'queued', ORDER_BODY, { prefer: 'respond-async' });
    expect(res.status).toBe(202);
    const status = await getOrder(idle, customer, 'queued');
    expect(status.status).toBe(200);
    expect(await json(status)).toMatchObject({ status: 'running' });

    // A finished transaction is answered from history alone.
    expect((await postOrder(stack, customer, 'done')).status).toBe(201);
    expect(await json(await getOrder(idle, customer, 'done'))).toMatchObject({ status: 'completed', order: { total: { amount: '49.00' } } });
  } finally {
    await idle.stop();
  }
});
