/** createApp(deps): the Express edge without listen(), so tests run it in-process on port 0. */
import express from 'express';
import { pinoHttp } from 'pino-http';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { taskQueues } from '../contracts/order';
import type { Logger } from '../logger';
import { authenticate } from './middleware/auth';
import { requestId } from './middleware/request-id';
import { notFound, problemHandler } from './problem';
import type { OrderHistory } from './order-history';
import { healthRoutes } from './routes/health';
import { historyRoutes } from './routes/history';
import { orderRoutes } from './routes/orders';
import { refundRoutes } from './routes/refunds';
import { createTransactions } from './transactions';

export interface AppDeps {
  client: Client;
  config: Pick<Config, 'TASK_QUEUE_PREFIX' | 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'SYNC_WAIT_MAX_MS' | 'BODY_LIMIT'>;
  logger: Logger;
  /** The order-history read proxy; without it, GET /v1/orders is not served. */
  history?: OrderHistory;
}

export function createApp({ client, config, logger, history }: AppDeps): express.Express {
  if (!config.JWT_SECRET) throw new Error('JWT_SECRET is required by the API');
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestId);
  app.use(pinoHttp({ logger, genReqId: (_req, res) => (res as express.Response).locals.requestId, autoLogging: { ignore: (req) => req.url === '/healthz' } }));
  app.use(express.json({ limit: config.BODY_LIMIT, strict: true }));

  app.use(healthRoutes({ client }));
  const transactions = createTransactions({ client, taskQueue: taskQueues(config.TASK_QUEUE_PREFIX).orders });
  app.use('/v1', authenticate({ secret: config.JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }));
  const routeOptions = { transactions, syncWaitMaxMs: config.SYNC_WAIT_MAX_MS, onChange: history?.purge };
  if (history) app.use(historyRoutes({ history }));
  app.use(orderRoutes(routeOptions));
  app.use(refundRoutes(routeOptions));

  app.use(notFound);
  app.use(problemHandler(logger));
  return app;
}
