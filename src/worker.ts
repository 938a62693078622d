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
import { createLogger, type Logger } from './logger';
import { dataConverter } from './temporal/codec';
import { createNativeConnection } from './temporal/connection';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueuePrefix: string;
  roles: readonly TaskQueueRole[];
  activities: Activities;
  /** Per-downstream worker limits; defaults to 20 concurrent activities and no rate limit. */
  limits?: Partial<Record<Exclude<TaskQueueRole, 'orders'>, ActivityLimits>>;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled from source. */
  workflowBundle?: { codePath: string };
  /** Must match the clients' (payload encryption); none: Temporal's default, payloads in clear text. */
  dataConverter?: WorkerOptions['dataConverter'];
}

/** Limits of one downstream's activity worker: a slow downstream fills only its own slots (bulkhead), a provider's rate limit is respected. */
export interface ActivityLimits {
  concurrency: number;
  ratePerSecond?: number;
}

export function activityLimits(config: Config): Record<Exclude<TaskQueueRole, 'orders'>, ActivityLimits> {
  return {
    legacyEcommerce: { concurrency: config.LEGACY_CONCURRENCY, ratePerSecond: config.LEGACY_RATE_PER_SECOND },
    payments: { concurrency: config.PAYMENTS_CONCURRENCY, ratePerSecond: config.PAYMENTS_RATE_PER_SECOND },
    fulfilment: { concurrency: config.FULFILMENT_CONCURRENCY, ratePerSecond: config.FULFILMENT_RATE_PER_SECOND },
  };
}

/** One pooled client (with its breaker) per downstream, built once per process. */
export function createDownstreamClients(config: Config, logger?: Logger) {
  const common = {
    connectTimeoutMs: config.DOWNSTREAM_CONNECT_TIMEOUT_MS,
    connections: config.DOWNSTREAM_CONNECTIONS,
    breaker: { threshold: config.BREAKER_THRESHOLD, halfOpenAfterMs: config.BREAKER_HALF_OPEN_MS },
    onBreakerChange: (service: string, state: string) => logger?.warn({ service, breaker: state }, `circuit breaker ${state}`),
  };
  const timeouts = (ms = config.DOWNSTREAM_TIMEOUT_MS) => ({ headersTimeoutMs: ms, bodyTimeoutMs: ms });
  return {
    legacy: createLegacyEcommerceClient({ ...common, ...timeouts(config.LEGACY_TIMEOUT_MS), baseUrl: config.LEGACY_URL, credentials: config.LEGACY_API_KEYS, credentialsByRegion: config.LEGACY_API_KEYS_BY_REGION }),
    payments: createPaymentsClient({ ...common, ...timeouts(config.PAYMENTS_TIMEOUT_MS), baseUrl: config.PAYMENTS_URL, credentials: config.PAYMENTS_API_KEYS, credentialsByRegion: config.PAYMENTS_API_KEYS_BY_REGION }),
    fulfilment: createFulfilmentClient({ ...common, ...timeouts(config.FULFILMENT_TIMEOUT_MS), baseUrl: config.FULFILMENT_URL, credentials: config.FULFILMENT_API_KEYS, credentialsByRegion: config.FULFILMENT_API_KEYS_BY_REGION }),
  };
}

export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const queues = taskQueues(setup.taskQueuePrefix);
  const base = { connection: setup.connection, namespace: setup.namespace, dataConverter: setup.dataConverter };
  return Promise.all(
    setup.roles.map((role) => {
      if (role === 'orders') {
        const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = setup.workflowBundle
          ? { workflowBundle: setup.workflowBundle }
          : { workflowsPath: require.resolve('./workflows') };
        return Worker.create({ ...base, ...workflows, taskQueue: queues.orders });
      }
      const limits = setup.limits?.[role] ?? { concurrency: 20 };
      return Worker.create({
        ...base,
        taskQueue: queues[role],
        activities: setup.activities[role],
        maxConcurrentActivityTaskExecutions: limits.concurrency,
        maxTaskQueueActivitiesPerSecond: limits.ratePerSecond,
      });
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
  const clients = createDownstreamClients(config, logger);
  const workers = await createWorkers({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueuePrefix: config.TASK_QUEUE_PREFIX,
    roles: config.WORKER_QUEUES,
    activities: createActivities(clients),
    limits: activityLimits(config),
    workflowBundle: config.WORKFLOW_BUNDLE_PATH ? { codePath: config.WORKFLOW_BUNDLE_PATH } : undefined,
    dataConverter: dataConverter(config),
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
