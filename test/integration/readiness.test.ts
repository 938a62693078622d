/**
 * /readyz means an order can run: Temporal answers AND a worker polls every task queue the order
 * needs. Before any worker polls (as right after a start), the API says which queues wait, with a
 * 503 problem and Retry-After; once workers poll each queue, it is ready.
 */
import { randomUUID } from 'node:crypto';
import { NativeConnection } from '@temporalio/worker';
import { startDevServer } from '../../scripts/lib/dev-server';
import { firstJsonLine, spawnTs, stopProcess } from '../../scripts/lib/processes';
import { createActivities } from '../../src/activities';
import { TASK_QUEUE_ROLES, type TaskQueueRole } from '../../src/contracts/order';
import { dataConverter } from '../../src/temporal/codec';
import { createDownstreamClients, createWorkers } from '../../src/worker';
import { eventually } from '../support/eventually';
import { testEnv } from '../support/env';
import { startStack, type Stack } from '../support/stack';
import { freePort } from '../support/ports';
import { withWorkers } from '../support/workers';

let stack: Stack;
let connection: NativeConnection;
beforeAll(async () => {
  stack = await startStack({ WORKER_QUEUES: '' }); // the API alone: Temporal answers, no worker polls yet
  connection = await NativeConnection.connect({ address: stack.config.TEMPORAL_ADDRESS });
});
afterAll(async () => {
  await stack.stop();
  await connection.close();
});

async function workersFor(roles: readonly TaskQueueRole[]) {
  return createWorkers({
    connection,
    namespace: stack.config.TEMPORAL_NAMESPACE,
    taskQueuePrefix: stack.config.TASK_QUEUE_PREFIX,
    roles,
    activities: createActivities(createDownstreamClients(stack.config)),
    workflowBundle: { codePath: testEnv().bundlePath },
    dataConverter: dataConverter(stack.config),
  });
}

async function readiness(): Promise<{ status: number; retryAfter: string | null; type: string | null; body: { detail?: string; status?: string } }> {
  const res = await fetch(`${stack.url}/readyz`);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type'), body: (await res.json()) as { detail?: string } };
}

test('not ready while no worker polls a queue an order needs; ready once every queue has one', async () => {
  const prefix = stack.config.TASK_QUEUE_PREFIX;
  const none = await readiness();
  expect(none.status).toBe(503);
  expect(none.retryAfter).toBe('1');
  expect(none.type).toMatch(/^application\/problem\+json/);
  for (const queue of ['orders', 'legacy-ecommerce', 'payments', 'fulfilment']) expect(none.body.detail).toContain(`${prefix}${queue}`);

  // Workflows alone cannot run an order: the downstream queues still wait.
  await withWorkers(await workersFor(['orders']), async () => {
    const partial = await eventually(async () => {
      const r = await readiness();
      return r.status === 503 && !r.body.detail!.includes(`${prefix}orders`) ? r : undefined;
    });
    expect(partial.body.detail).toContain(`${prefix}payments`);

    await withWorkers(await workersFor(TASK_QUEUE_ROLES.filter((r) => r !== 'orders')), async () => {
      const ready = await eventually(async () => {
        const r = await readiness();
        return r.status === 200 ? r : undefined;
      });
      expect(ready.body.status).toBe('ready');
    });
  });
}, 60_000);

test('the API starts while Temporal is down, answers 503 meanwhile, and reaches Temporal once it is up', async () => {
  const [temporalPort, apiPort] = await Promise.all([freePort(), freePort()]);
  const api = spawnTs('src/api/server.ts', [], { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`, PORT: String(apiPort), JWT_SECRET: randomUUID() + randomUUID(), LOG_LEVEL: 'silent' });
  let temporal: Awaited<ReturnType<typeof startDevServer>> | undefined;
  try {
    await firstJsonLine(api, (v): v is { ready: string } => (v as { ready?: unknown })?.ready === 'api');
    const url = `http://127.0.0.1:${apiPort}`;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const down = await fetch(`${url}/readyz`);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(((await down.json()) as { detail: string }).detail).toMatch(/Temporal is not answering/);

    temporal = await startDevServer({ port: temporalPort });
    // Temporal answers now (no worker polls this fresh server yet, so: still not ready, but for that reason).
    const answering = await eventually(async () => {
      const body = (await (await fetch(`${url}/readyz`)).json()) as { detail: string };
      return /No worker is polling/.test(body.detail) ? body : undefined;
    }, 30_000);
    expect(answering.detail).toContain('orders');
  } finally {
    await stopProcess(api);
    if (temporal) await stopProcess(temporal.child);
  }
}, 60_000);
