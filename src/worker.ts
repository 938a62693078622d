/**
 * The worker's composition root: builds one pooled client per downstream from config, creates the
 * activities from them, and runs one Worker per task queue (workflows, and one per downstream so
 * each downstream has its own bulkhead). WORKER_QUEUES picks which queues this process serves.
 */
import { createServer } from 'node:net';
import { Runtime, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type Activities } from './activities';
import { createLocalActivities } from './activities/local';
import { createFulfilmentClient } from './clients/fulfilment';
import { createLegacyEcommerceClient } from './clients/legacy-ecommerce';
import { createPaymentsClient } from './clients/payments';
import { loadConfig, type Config } from './config';
import { taskQueues, type TaskQueueRole } from './contracts/order';
import { createLogger, temporalLogger, type Logger } from './logger';
import { DOWNSTREAMS, createMetrics, serveMetrics, type Metrics } from './metrics';
import { dataConverter } from './temporal/codec';
import { createNativeConnection } from './temporal/connection';
import { activityInterceptors, workerSinks, WORKFLOW_INTERCEPTOR_MODULES, type ObservabilityDeps } from './temporal/interceptors';
import { installContext, setupTracing } from './tracing';

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
  /** Metrics, traces and activity log lines; none: the workers record nothing of their own. */
  observability?: ObservabilityDeps;
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
export function createDownstreamClients(config: Config, logger?: Logger, metrics?: Metrics) {
  for (const downstream of DOWNSTREAMS) metrics?.breakerChanged(downstream, 'closed');
  const common = {
    connectTimeoutMs: config.DOWNSTREAM_CONNECT_TIMEOUT_MS,
    connections: config.DOWNSTREAM_CONNECTIONS,
    breaker: { threshold: config.BREAKER_THRESHOLD, halfOpenAfterMs: config.BREAKER_HALF_OPEN_MS },
    onBreakerChange: (service: string, state: 'open' | 'half-open' | 'closed') => {
      metrics?.breakerChanged(service, state);
      logger?.warn({ service, breaker: state }, `circuit breaker ${state}`);
    },
    // An operator's problem, not the customer's: the saga waits with the same key until the keys are fixed.
    onAuthFailure: (service: string, status: number, region?: string) => {
      metrics?.credentialsRefused(service);
      logger?.error({ service, status, region }, 'downstream refused our credentials; fix its API keys (sagas wait and retry)');
    },
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
  const observability = setup.observability ?? {};
  return Promise.all(
    setup.roles.map((role) => {
      if (role === 'orders') {
        // A pre-built bundle carries its workflow interceptor modules (WORKFLOW_INTERCEPTOR_MODULES) already.
        const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'interceptors'> = setup.workflowBundle
          ? { workflowBundle: setup.workflowBundle }
          : { workflowsPath: require.resolve('./workflows'), interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } };
        // The fast path: forward steps run here first as local activities, each downstream behind an
        // in-process bulkhead as large as its queue's worker (a full one sends the step to that queue).
        const slots = (r: Exclude<TaskQueueRole, 'orders'>) => setup.limits?.[r]?.concurrency ?? 20;
        const local = createLocalActivities(setup.activities, { legacyEcommerce: slots('legacyEcommerce'), payments: slots('payments'), fulfilment: slots('fulfilment') });
        return Worker.create({
          ...base,
          ...workflows,
          interceptors: { ...workflows.interceptors, activity: activityInterceptors(observability) },
          taskQueue: queues.orders,
          activities: local,
          sinks: workerSinks(observability),
        });
      }
      const limits = setup.limits?.[role] ?? { concurrency: 20 };
      return Worker.create({
        ...base,
        taskQueue: queues[role],
        activities: setup.activities[role],
        maxConcurrentActivityTaskExecutions: limits.concurrency,
        maxTaskQueueActivitiesPerSecond: limits.ratePerSecond,
        interceptors: { activity: activityInterceptors(observability) },
      });
    }),
  );
}

/** A port that was free a moment ago on 127.0.0.1 (for the Temporal SDK's own Prometheus endpoint, which this process re-exposes). */
function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * What of the SDK's own output to drop: the worker's and core's lifecycle chatter below WARN (unless
 * LOG_LEVEL asks for debug), and its notes that a queue has only workflows or only activities, which
 * is by design here. Workflow and activity lines pass at LOG_LEVEL.
 */
function sdkNoise(level: Config['LOG_LEVEL']): Parameters<typeof temporalLogger>[1] {
  const verbose = level === 'debug' || level === 'trace';
  return (sdkLevel, message, meta) =>
    /^No (activities|workflows|Nexus services) registered/.test(message) ||
    (!verbose && (sdkLevel === 'TRACE' || sdkLevel === 'DEBUG' || sdkLevel === 'INFO') && meta?.sdkComponent !== 'workflow' && meta?.sdkComponent !== 'activity');
}

async function main(): Promise<void> {
  const config = loadConfig();
  installContext();
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  // The SDK's Prometheus endpoint stays private; GET /metrics on METRICS_PORT serves it with ours.
  const sdkMetrics = `127.0.0.1:${await freeLocalPort()}`;
  Runtime.install({
    logger: temporalLogger(logger.child({ sdk: 'temporal' }), sdkNoise(config.LOG_LEVEL)),
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      metrics: { prometheus: { bindAddress: sdkMetrics } },
    },
  });
  const metrics = createMetrics({ process: true });
  const tracing = setupTracing('saga-coordinator-worker');
  const exposed = await serveMetrics({
    registry: metrics.registry,
    host: config.METRICS_HOST,
    port: config.METRICS_PORT,
    extra: async () => (await fetch(`http://${sdkMetrics}/metrics`, { signal: AbortSignal.timeout(2_000) })).text(),
  });
  const connection = await createNativeConnection(config);
  const clients = createDownstreamClients(config, logger, metrics);
  const workers = await createWorkers({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueuePrefix: config.TASK_QUEUE_PREFIX,
    roles: config.WORKER_QUEUES,
    activities: createActivities(clients),
    limits: activityLimits(config),
    dataConverter: dataConverter(config),
    observability: { metrics, tracing, logger },
  });
  logger.info({ queues: config.WORKER_QUEUES, namespace: config.TEMPORAL_NAMESPACE, metrics: exposed.url, tracing: Boolean(tracing) }, 'worker running');
  console.log(JSON.stringify({ ready: 'worker', queues: config.WORKER_QUEUES, metrics: exposed.url })); // for supervisors, whatever the log level
  try {
    // The runtime shuts every worker down on SIGINT/SIGTERM; run() resolves once in-flight tasks drain.
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.http.close()));
    await connection.close();
    await tracing?.shutdown();
    exposed.server.close();
    logger.info('worker stopped');
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
