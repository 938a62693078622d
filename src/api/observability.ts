/**
 * The edge's share of observability: a server span per request (continuing the caller's
 * `traceparent`) and the async context that carries the request ID into every log line and every
 * Temporal call; request latency by route template; webhook deliveries by source and result;
 * order-history reads by cache result; sagas parked for an operator, counted from Temporal's
 * visibility when Prometheus scrapes; and `GET /metrics`.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import type { Request, RequestHandler, Response } from 'express';
import { Gauge } from 'prom-client';
import { exposition, type Metrics } from '../metrics';
import { withRequestId, type Tracing } from '../tracing';
import type { OrderHistory } from './order-history';

/** The route template a request matched (`/v1/orders/:key`), never its raw path. */
function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'unmatched';
}

/** Goes after the request-ID middleware: everything downstream of it runs in the request's context. */
export function observeRequests({ metrics, tracing, webhookSources }: { metrics?: Metrics; tracing?: Tracing; webhookSources: readonly string[] }): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const parent = tracing ? propagation.extract(ROOT_CONTEXT, req.headers) : context.active();
    const span = tracing?.tracer.startSpan(req.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.path } }, parent);
    const ctx = withRequestId(span ? trace.setSpan(parent, span) : parent, res.locals.requestId as string | undefined);
    // Body parsers resume on the socket's events: bind them so the context survives.
    context.bind(ctx, req);
    context.bind(ctx, res);
    res.once('close', () => {
      const route = routeOf(req);
      const status = res.headersSent ? res.statusCode : 499; // 499: the caller hung up first
      metrics?.httpRequestDuration.observe({ method: req.method, route, status_code: String(status) }, (performance.now() - started) / 1000);
      const source = /^\/v1\/webhooks\/([^/]+)$/.exec(req.path)?.[1];
      if (metrics && source && req.method === 'POST') {
        const result = status < 300 ? 'accepted' : status < 500 ? 'rejected' : 'failed';
        metrics.webhookDeliveries.inc({ source: webhookSources.includes(source) ? source : 'unknown', result });
      }
      if (span) {
        span.updateName(`${req.method} ${route}`);
        span.setAttributes({ 'http.route': route, 'http.response.status_code': status, 'saga.request_id': String(res.locals.requestId ?? '') });
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
    });
    context.with(ctx, next);
  };
}

/** Counts how each history read was answered: `hit` (fresh cache), `miss` (from legacy), `stale` (legacy down), `unavailable`. */
export function observeHistory(history: OrderHistory, metrics?: Metrics): OrderHistory {
  if (!metrics) return history;
  return {
    ...history,
    async read(...args) {
      try {
        const answer = await history.read(...args);
        metrics.historyReads.inc({ result: answer.source === 'origin' ? 'miss' : answer.source === 'cache' ? 'hit' : 'stale' });
        return answer;
      } catch (err) {
        metrics.historyReads.inc({ result: 'unavailable' });
        throw err;
      }
    },
  };
}

/** Sagas waiting for an operator, per kind, as Temporal's visibility counts them at scrape time (any worker, any replica). */
export function trackParked({ metrics, client, taskQueue }: { metrics: Metrics; client: Client; taskQueue: string }): void {
  const kinds = { order: 'orderSaga', refund: 'refundSaga' };
  new Gauge({
    name: 'saga_transactions_parked',
    help: 'Sagas in needs_attention, waiting for an operator decision, by kind',
    labelNames: ['kind'],
    registers: [metrics.registry],
    async collect() {
      await Promise.all(
        Object.entries(kinds).map(async ([kind, type]) => {
          const query = `WorkflowType = "${type}" AND TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running" AND SagaStatus = "needs_attention"`;
          try {
            const { count } = await client.withDeadline(Date.now() + 2_000, () => client.workflow.count(query));
            this.set({ kind }, count);
          } catch {
            // Temporal unreachable: no sample rather than a wrong one.
            this.remove({ kind });
          }
        }),
      );
    },
  });
}

export function metricsRoute(metrics: Metrics): RequestHandler {
  return async (_req, res: Response) => {
    res.type(metrics.registry.contentType).send(await exposition(metrics.registry));
  };
}
