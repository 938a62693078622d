/** Builds the order-history proxy from config: its own legacy client (short timeout, own breaker) and the purge watch. */
import type { Client } from '@temporalio/client';
import { createLegacyEcommerceClient } from '../clients/legacy-ecommerce';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { createOrderHistory, watchSagaChanges } from './order-history';

export function createHistory(config: Config, client: Client, logger: Logger, metrics?: Metrics) {
  metrics?.breakerChanged('legacy-ecommerce', 'closed');
  const legacy = createLegacyEcommerceClient({
    baseUrl: config.LEGACY_URL,
    credentials: config.LEGACY_API_KEYS,
    credentialsByRegion: config.LEGACY_API_KEYS_BY_REGION,
    connectTimeoutMs: config.DOWNSTREAM_CONNECT_TIMEOUT_MS,
    headersTimeoutMs: config.HISTORY_TIMEOUT_MS,
    bodyTimeoutMs: config.HISTORY_TIMEOUT_MS,
    connections: config.DOWNSTREAM_CONNECTIONS,
    breaker: { threshold: config.BREAKER_THRESHOLD, halfOpenAfterMs: config.BREAKER_HALF_OPEN_MS },
    onBreakerChange: (service, state) => {
      metrics?.breakerChanged(service, state);
      logger.warn({ service, breaker: state, for: 'order-history' }, `circuit breaker ${state}`);
    },
  });
  const history = createOrderHistory({ legacy, ttlMs: config.HISTORY_CACHE_TTL_MS });
  const stopWatching = watchSagaChanges({ client, history, intervalMs: config.HISTORY_PURGE_POLL_MS, logger });
  return { legacy, history, stopWatching };
}
