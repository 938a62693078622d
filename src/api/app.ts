/** createApp(deps): the Express edge without listen(), so tests run it in-process on port 0. */
import express from 'express';
import { pinoHttp } from 'pino-http';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { taskQueues } from '../contracts/order';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Tracing } from '../tracing';
import { payloadCodec } from '../temporal/codec';
import { authenticate } from './middleware/auth';
import { requestId } from './middleware/request-id';
import { metricsRoute, observeHistory, observeRequests, trackParked } from './observability';
import { notFound, problemHandler } from './problem';
import type { OrderHistory } from './order-history';
import { codecRoutes } from './routes/codec';
import { adminRoutes } from './routes/admin';
import { healthRoutes } from './routes/health';
import { webhookRoutes } from './routes/webhooks';
import { historyRoutes } from './routes/history';
import { orderRoutes } from './routes/orders';
import { refundRoutes } from './routes/refunds';
import { createTransactions } from './transactions';

export interface AppDeps {
  client: Client;
  config: Pick<
    Config,
    | 'TASK_QUEUE_PREFIX'
    | 'FAST_PATH'
    | 'JWT_SECRET'
    | 'JWT_ISSUER'
    | 'JWT_AUDIENCE'
    | 'SYNC_WAIT_MAX_MS'
    | 'BODY_LIMIT'
    | 'PAYMENTS_WEBHOOK_SECRETS'
    | 'STANDARD_WEBHOOK_SECRETS'
    | 'WEBHOOK_TOLERANCE_S'
    | 'PAYMENT_CONFIRMATION_TIMEOUT_S'
    | 'PAYLOAD_KEYS'
    | 'CODEC_CORS_ORIGINS'
  >;
  logger: Logger;
  /** The order-history read proxy; without it, GET /v1/orders is not served. */
  history?: OrderHistory;
  /** Prometheus metrics (GET /metrics); none: not served. */
  metrics?: Metrics;
  /** A server span per request; none: no traces. */
  tracing?: Tracing;
}

export function createApp({ client, config, logger, history: plainHistory, metrics, tracing }: AppDeps): express.Express {
  if (!config.JWT_SECRET) throw new Error('JWT_SECRET is required by the API');
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestId);
  app.use(observeRequests({ metrics, tracing, webhookSources: ['payments', ...Object.keys(config.STANDARD_WEBHOOK_SECRETS)] }));
  app.use(pinoHttp({ logger, genReqId: (_req, res) => (res as express.Response).locals.requestId, autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' } }));
  const taskQueue = taskQueues(config.TASK_QUEUE_PREFIX).orders;
  if (metrics) {
    trackParked({ metrics, client, taskQueue });
    app.get('/metrics', metricsRoute(metrics));
  }
  const history = plainHistory && observeHistory(plainHistory, metrics);
  // Webhooks first: they need the raw body for their signatures, and the signature is their auth.
  app.use(
    webhookRoutes({
      client,
      taskQueue,
      paymentSecrets: config.PAYMENTS_WEBHOOK_SECRETS,
      standardSecrets: config.STANDARD_WEBHOOK_SECRETS,
      toleranceSeconds: config.WEBHOOK_TOLERANCE_S,
      bodyLimit: config.BODY_LIMIT,
      logger,
    }),
  );
  app.use(express.json({ limit: config.BODY_LIMIT, strict: true }));

  app.use(healthRoutes({ client }));
  const auth = { secret: config.JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
  // The remote codec for the Temporal Web UI and CLI, when payloads are encrypted.
  const codec = payloadCodec(config);
  if (codec) app.use(codecRoutes({ codec, auth, corsOrigins: config.CODEC_CORS_ORIGINS }));
  const transactions = createTransactions({ client, queues: taskQueues(config.TASK_QUEUE_PREFIX), fastPath: config.FAST_PATH });
  app.use('/v1', authenticate(auth));
  const routeOptions = { transactions, syncWaitMaxMs: config.SYNC_WAIT_MAX_MS, onChange: history?.purge, paymentTimeoutSeconds: config.PAYMENT_CONFIRMATION_TIMEOUT_S };
  if (history) app.use(historyRoutes({ history }));
  app.use(adminRoutes({ client, transactions }));
  app.use(orderRoutes(routeOptions));
  app.use(refundRoutes(routeOptions));

  app.use(notFound);
  app.use(problemHandler(logger));
  return app;
}
