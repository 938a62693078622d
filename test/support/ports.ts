/** Free ports for tests (the helper lives with the scripts, which use it too). */
import { freePort } from '../../scripts/lib/ports';

export { freePort };

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
