/**
 * Bench only: one worker process as src/worker.ts builds it (createWorkers with every queue, the
 * configured limits and data converter, from a pre-built bundle so N processes do not bundle N
 * times), plus the bench's no-op workflows of the same shape and its bare saga (bench/noop-workflows.ts)
 * on queues of their own. Without metrics, tracing or logs, like the benchmark's plain edge. Prints
 * `{"ready":"bench-worker"}`, runs until SIGTERM.
 *
 * Env: everything src/worker.ts reads, plus BENCH_BUNDLE and BENCH_NOOP_BUNDLE (bundle paths).
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { loadConfig } from '../src/config';
import { dataConverter } from '../src/temporal/codec';
import { createNativeConnection } from '../src/temporal/connection';
import { activityLimits, createDownstreamClients, createWorkers } from '../src/worker';
import { chainSteps } from './chain';
import { bareQueue, noopQueues } from './noop-queues';

async function main(): Promise<void> {
  const config = loadConfig();
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  const connection: NativeConnection = await createNativeConnection(config);
  const clients = createDownstreamClients(config);
  const product = await createWorkers({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueuePrefix: config.TASK_QUEUE_PREFIX,
    roles: config.WORKER_QUEUES,
    activities: createActivities(clients),
    limits: activityLimits(config),
    dataConverter: dataConverter(config),
    workflowBundle: { codePath: required('BENCH_BUNDLE') },
  });
  const step = async (n: number) => n + 1;
  const queues = noopQueues(config.TASK_QUEUE_PREFIX);
  const base = { connection, namespace: config.TEMPORAL_NAMESPACE };
  const noop = await Promise.all([
    Worker.create({ ...base, taskQueue: queues.workflows, workflowBundle: { codePath: required('BENCH_NOOP_BUNDLE') }, activities: { step } }),
    // The bare saga: the same four downstream calls as local activities, with the same clients (pools).
    Worker.create({ ...base, taskQueue: bareQueue(config.TASK_QUEUE_PREFIX), workflowBundle: { codePath: required('BENCH_NOOP_BUNDLE') }, activities: chainSteps(clients) }),
    ...queues.steps.map((taskQueue) => Worker.create({ ...base, taskQueue, activities: { step } })),
  ]);
  console.log(JSON.stringify({ ready: 'bench-worker', pid: process.pid }));
  try {
    await Promise.all([...product, ...noop].map((w) => w.run()));
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.http.close()));
    await connection.close();
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
