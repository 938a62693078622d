/**
 * The worker's composition root: builds one pooled client per downstream from config, creates the
 * activities from them, and runs one Worker per task queue (workflows, and one per downstream so
 * each downstream has its own bulkhead). WORKER_QUEUES picks which queues this process serves.
 */
import { DefaultLogger, Runtime, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type Activities } from './activities';
import { createFulfilmentClient } from './clients/fulfilment';
import { createLegacyEcommerceClient } from './clients/legacy-ecommerce';
import { createPaymentsClient } from './clients/payments';
import { loadConfig, type Config } from './config';
import { taskQueues, type TaskQueueRole } from './contracts/order';
import { createLogger } from './logger';
import { createNativeConnection } from './temporal/connection';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueuePrefix: string;
  roles: readonly TaskQueueRole[];
  activities: Activities;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled from source. */
  workflowBundle?: { codePath: string };
}

/** Per-queue settings: each downstream gets its own concurrency, so a slow one only fills its own slots. */
const ACTIVITY_CONCURRENCY: Record<Exclude<TaskQueueRole, 'orders'>, number> = { legacyEcommerce: 20, payments: 20, fulfilment: 20 };

export function createDownstreamClients(config: Config) {
  const http = { connectTimeoutMs: config.DOWNSTREAM_CONNECT_TIMEOUT_MS, headersTimeoutMs: config.DOWNSTREAM_TIMEOUT_MS, bodyTimeoutMs: config.DOWNSTREAM_TIMEOUT_MS, connections: config.DOWNSTREAM_CONNECTIONS };
  return {
    legacy: createLegacyEcommerceClient({ ...http, baseUrl: config.LEGACY_URL }),
    payments: createPaymentsClient({ ...http, baseUrl: config.PAYMENTS_URL }),
    fulfilment: createFulfilmentClient({ ...http, baseUrl: config.FULFILMENT_URL }),
  };
}

export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const queues = taskQueues(setup.taskQueuePrefix);
  const base = { connection: setup.connection, namespace: setup.namespace };
  return Promise.all(
    setup.roles.map((role) => {
      if (role === 'orders') {
        const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = setup.workflowBundle
          ? { workflowBundle: setup.workflowBundle }
          : { workflowsPath: require.resolve('./workflows') };
        return Worker.create({ ...base, ...workflows, taskQueue: queues.orders });
      }
      return Worker.create({ ...base, taskQueue: queues[role], activities: setup.activities[role], maxConcurrentActivityTaskExecutions: ACTIVITY_CONCURRENCY[role] });
    }),
  );
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  // Core's own messages at WARN; the SDK's notes that a queue has only workflows or only activities are by design here.
  const sdkLogger = new DefaultLogger('WARN', (entry) => {
    if (/^No (activities|workflows) registered/.test(entry.message)) return;
    console.error(`[${entry.level}] ${entry.message}`, entry.meta ?? '');
  });
  Runtime.install({ logger: sdkLogger, telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' } } } });
  const connection = await createNativeConnection(config);
  const clients = createDownstreamClients(config);
  const workers = await createWorkers({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueuePrefix: config.TASK_QUEUE_PREFIX,
    roles: config.WORKER_QUEUES,
    activities: createActivities(clients),
  });
  logger.info({ queues: config.WORKER_QUEUES, namespace: config.TEMPORAL_NAMESPACE }, 'worker running');
  console.log(JSON.stringify({ ready: 'worker', queues: config.WORKER_QUEUES })); // for supervisors, whatever the log level
  try {
    // The runtime shuts every worker down on SIGINT/SIGTERM; run() resolves once in-flight tasks drain.
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.http.close()));
    await connection.close();
    logger.info('worker stopped');
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
