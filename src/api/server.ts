/** Starts the API: connects to Temporal, listens, and drains in-flight requests on SIGINT/SIGTERM. */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics';
import { createClient } from '../temporal/connection';
import { clientInterceptors } from '../temporal/interceptors';
import { installContext, setupTracing } from '../tracing';
import { createApp } from './app';
import { createHistory } from './history-setup';

async function main(): Promise<void> {
  const config = loadConfig();
  installContext();
  const logger = createLogger(config.LOG_LEVEL, 'api');
  const metrics = createMetrics({ process: true });
  const tracing = setupTracing('saga-coordinator-api');
  const client = await createClient(config, clientInterceptors(tracing));
  const { legacy, history, stopWatching } = createHistory(config, client, logger, metrics);
  const app = createApp({ client, config, logger, history, metrics, tracing });
  const server = app.listen(config.PORT, config.HOST, () => {
    logger.info({ url: `http://${config.HOST}:${config.PORT}` }, 'api listening');
    console.log(JSON.stringify({ ready: 'api', url: `http://${config.HOST}:${config.PORT}` })); // for supervisors, whatever the log level
  });
  server.keepAliveTimeout = 5_000;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api stopping');
    // Stop accepting, let in-flight requests (including sync waits) finish, then close the connection.
    const force = setTimeout(() => server.closeAllConnections(), 15_000).unref();
    server.close(async () => {
      clearTimeout(force);
      await stopWatching();
      await legacy.http.close();
      await client.connection.close();
      await tracing?.shutdown();
      logger.info('api stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
