/**
 * Prometheus metrics (prom-client): one registry per process with the instruments the API and the
 * workers record into, and a small listener for processes that have no HTTP server of their own.
 * Every label has a bounded set of values (routes as templates, downstream and activity names,
 * outcomes): never a customer, a key or an ID.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Downstream services by the name their HTTP client carries. */
export const DOWNSTREAMS = ['legacy-ecommerce', 'payments', 'fulfilment'] as const;
const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

/** Transaction outcomes once a saga closes; `needs_attention` is not one (the saga waits): see `saga_transactions_parked`. */
export type SettledOutcome = 'completed' | 'compensated' | 'failed';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics({ process: processMetrics = false }: { process?: boolean } = {}) {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const breakerState = new Gauge({
    name: 'saga_circuit_breaker_state',
    help: 'Circuit breaker state per downstream (1 for the current state, 0 for the others)',
    labelNames: ['downstream', 'state'],
    registers,
  });

  const metrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'saga_http_request_duration_seconds',
      help: 'Time to answer an HTTP request at the edge, by route template and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    transactionsStarted: new Counter({ name: 'saga_transactions_started_total', help: 'Sagas started, by kind (order, refund)', labelNames: ['kind'], registers }),
    transactionsSettled: new Counter({
      name: 'saga_transactions_settled_total',
      help: 'Sagas closed, by kind and outcome (completed, compensated, failed)',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    activityDuration: new Histogram({
      name: 'saga_activity_duration_seconds',
      help: 'One attempt of a saga step or compensation against a downstream, by outcome (ok, retryable, error)',
      labelNames: ['downstream', 'activity', 'kind', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'saga_webhook_deliveries_total',
      help: 'Webhook deliveries received, by source and result (accepted, rejected, failed)',
      labelNames: ['source', 'result'],
      registers,
    }),
    historyReads: new Counter({
      name: 'saga_order_history_reads_total',
      help: 'Order-history reads by how they were answered (hit, miss, stale, unavailable)',
      labelNames: ['result'],
      registers,
    }),
    credentialsRefusedTotal: new Counter({
      name: 'saga_downstream_credentials_refused_total',
      help: 'Downstream calls refused because of our own credentials (401/403): an operator must fix the keys; sagas wait meanwhile',
      labelNames: ['downstream'],
      registers,
    }),
    /** A downstream refused our credentials (an operational fault: the saga waits, nothing is compensated). */
    credentialsRefused(downstream: string): void {
      metrics.credentialsRefusedTotal.inc({ downstream });
    },
    /** Records a breaker transition; every downstream starts `closed`. */
    breakerChanged(downstream: string, state: BreakerState): void {
      for (const s of BREAKER_STATES) breakerState.set({ downstream, state: s }, s === state ? 1 : 0);
    },
  };
  return metrics;
}

/** A Prometheus text exposition of the registry, plus any extra exposition (e.g. the Temporal SDK's own metrics). */
export async function exposition(registry: Registry, extra?: () => Promise<string>): Promise<string> {
  const own = await registry.metrics();
  const more = extra ? await extra().catch(() => '') : '';
  return more ? `${own}\n${more}` : own;
}

/** `GET /metrics` on `host:port` (0: any free port) for a process without an HTTP server, e.g. a worker. */
export async function serveMetrics({ registry, host, port, extra }: { registry: Registry; host: string; port: number; extra?: () => Promise<string> }): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    exposition(registry, extra).then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return { server, url: `http://${host}:${actual}/metrics` };
}
