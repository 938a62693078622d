/** createApp(deps): the Express edge without listen(), so tests run it in-process on port 0. */
import { isUtf8 } from 'node:buffer';
import cors from 'cors';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { taskQueues } from '../contracts/order';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Tracing } from '../tracing';
import { payloadCodec } from '../temporal/codec';
import { authenticate, type AuthOptions } from './middleware/auth';
import { perCustomer, perIp } from './middleware/rate-limit';
import { requestId } from './middleware/request-id';
import { metricsRoute, observeHistory, observeRequests, trackParked } from './observability';
import { answerOptions, methodNotAllowed, openApiDocument, openApiRoutes } from './openapi';
import { HttpProblem, notFound, problemHandler } from './problem';
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
    | 'JWT_JWKS_URL'
    | 'JWT_ALGORITHMS'
    | 'JWT_CLOCK_TOLERANCE_S'
    | 'JWT_JWKS_COOLDOWN_MS'
    | 'MFE_CORS_ORIGINS'
    | 'RATE_LIMIT_WINDOW_MS'
    | 'RATE_LIMIT_COMMANDS_PER_CUSTOMER'
    | 'RATE_LIMIT_READS_PER_CUSTOMER'
    | 'RATE_LIMIT_PER_IP'
    | 'RATE_LIMIT_WEBHOOKS_PER_SOURCE'
    | 'TRUST_PROXY_HOPS'
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

/** Every body the edge reads is JSON, uncompressed: anything else is a 415 before any parser runs. */
const strictJsonBodies: RequestHandler = (req, _res, next) => {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody) return next();
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new HttpProblem(415, 'unsupported-media-type', 'Unsupported content encoding', 'Send the body uncompressed (no Content-Encoding).', {}, { 'Accept-Encoding': 'identity' });
  }
  if (!req.is('application/json')) throw new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', 'Send the body as application/json.');
  next();
};

/** JSON is UTF-8 (RFC 8259 §8.1): bytes that are not would be read with U+FFFD in their place, and recorded so. */
function utf8Only(_req: unknown, _res: unknown, body: Buffer): void {
  if (!isUtf8(body)) throw Object.assign(new Error('body is not UTF-8'), { type: 'charset.invalid' });
}

export function createApp({ client, config, logger, history: plainHistory, metrics, tracing }: AppDeps): express.Express {
  if (!config.JWT_SECRET && !config.JWT_JWKS_URL) throw new Error('the API needs JWT_JWKS_URL (an identity provider) or JWT_SECRET (the embedded default)');
  const app = express();
  app.disable('x-powered-by');
  // The client IP the per-IP limit counts: the socket's, or the one a trusted proxy reports.
  app.set('trust proxy', config.TRUST_PROXY_HOPS > 0 ? config.TRUST_PROXY_HOPS : false);
  app.use(requestId);
  app.use(observeRequests({ metrics, tracing, webhookSources: ['payments', ...Object.keys(config.STANDARD_WEBHOOK_SECRETS)] }));
  app.use(pinoHttp({ logger, genReqId: (_req, res) => (res as express.Response).locals.requestId, autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' } }));
  // helmet's defaults suit an API (nosniff, no framing, HSTS, a strict CSP that Swagger UI at /docs also keeps to).
  app.use(helmet());
  const queues = taskQueues(config.TASK_QUEUE_PREFIX);
  const taskQueue = queues.orders;
  if (metrics) {
    trackParked({ metrics, client, taskQueue });
    app.get('/metrics', metricsRoute(metrics));
  }
  const history = plainHistory && observeHistory(plainHistory, metrics);
  const codec = payloadCodec(config);
  const document = openApiDocument({ history: Boolean(history), paymentsWebhook: config.PAYMENTS_WEBHOOK_SECRETS.length > 0, codec: Boolean(codec), metrics: Boolean(metrics) });
  app.use(answerOptions(document));
  const window = config.RATE_LIMIT_WINDOW_MS;
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
      rateLimit: { windowMs: window, limit: config.RATE_LIMIT_WEBHOOKS_PER_SOURCE },
    }),
  );
  app.use('/v1', perIp(window, config.RATE_LIMIT_PER_IP), strictJsonBodies);
  app.use(express.json({ limit: config.BODY_LIMIT, strict: true, inflate: false, verify: utf8Only }));

  app.use(healthRoutes({ client, taskQueues: queues }));
  const auth: AuthOptions = {
    secret: config.JWT_SECRET,
    jwksUrl: config.JWT_JWKS_URL,
    algorithms: config.JWT_ALGORITHMS,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_S,
    jwksCooldownMs: config.JWT_JWKS_COOLDOWN_MS,
  };
  app.use(openApiRoutes(document));
  // The remote codec for the Temporal Web UI and CLI, when payloads are encrypted.
  if (codec) app.use(codecRoutes({ codec, auth, corsOrigins: config.CODEC_CORS_ORIGINS }));
  const transactions = createTransactions({ client, queues: taskQueues(config.TASK_QUEUE_PREFIX), fastPath: config.FAST_PATH });
  // The micro-frontends' origins may call the customer routes from a browser; preflights need no token.
  if (config.MFE_CORS_ORIGINS.length) {
    app.use('/v1/orders', cors({ origin: config.MFE_CORS_ORIGINS, methods: ['GET', 'POST'], allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Prefer', 'X-Request-Id'], exposedHeaders: ['Location', 'Content-Location', 'Retry-After', 'Preference-Applied', 'Idempotent-Replayed', 'Idempotency-Key-Retention', 'X-Request-Id', 'RateLimit', 'RateLimit-Policy'], maxAge: 600 }));
  }
  app.use('/v1', authenticate(auth), ...perCustomer(window, config.RATE_LIMIT_COMMANDS_PER_CUSTOMER, config.RATE_LIMIT_READS_PER_CUSTOMER));
  const routeOptions = { transactions, syncWaitMaxMs: config.SYNC_WAIT_MAX_MS, onChange: history?.purge, paymentTimeoutSeconds: config.PAYMENT_CONFIRMATION_TIMEOUT_S };
  if (history) app.use(historyRoutes({ history }));
  app.use(adminRoutes({ client, transactions }));
  app.use(orderRoutes(routeOptions));
  app.use(refundRoutes(routeOptions));

  app.use(methodNotAllowed(document));
  app.use(notFound);
  app.use(problemHandler(logger));
  return app;
}
