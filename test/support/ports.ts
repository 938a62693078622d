/** A TCP port that was free a moment ago on 127.0.0.1. */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Environment for running `npm start`'s supervisor (scripts/start.ts) beside everything else: its own data dir and free ports. */
export async function supervisorEnv(dataDir: string) {
  const [temporal, ui, api, legacy, payments, fulfilment, workerMetrics, temporalMetrics, prometheus] = await Promise.all(
    Array.from({ length: 9 }, () => freePort()),
  );
  return {
    SAGA_DATA_DIR: dataDir,
    TEMPORAL_PORT: String(temporal),
    TEMPORAL_UI_PORT: String(ui),
    PORT: String(api),
    LEGACY_PORT: String(legacy),
    PAYMENTS_PORT: String(payments),
    FULFILMENT_PORT: String(fulfilment),
    METRICS_PORT: String(workerMetrics),
    TEMPORAL_METRICS_PORT: String(temporalMetrics),
    PROMETHEUS_PORT: String(prometheus),
    LOG_LEVEL: 'warn',
  };
}
