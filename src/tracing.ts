/**
 * OpenTelemetry for one process: a tracer that exports over OTLP when the standard
 * OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set (off otherwise), W3C `traceparent` propagation, and
 * spans for every undici request made inside a traced operation (so each downstream call is a span
 * and carries `traceparent`). The async context (AsyncLocalStorage) is installed either way: it
 * also carries the request ID into every log line of the operation it belongs to.
 */
import { context, createContextKey, propagation, type Context, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface Tracing {
  tracer: Tracer;
  /** Where finished spans go; the workflow sandbox's spans reach it through a sink. */
  spanProcessor: SpanProcessor;
  resource: Resource;
  shutdown(): Promise<void>;
}

const REQUEST_ID = createContextKey('saga-coordinator.request-id');

let contextInstalled = false;
/** The process-wide async context and propagator; idempotent. */
export function installContext(): void {
  if (contextInstalled) return;
  contextInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** The context with the request ID this work is done for (read back by the logger). */
export function withRequestId(ctx: Context, requestId: string | undefined): Context {
  return requestId ? ctx.setValue(REQUEST_ID, requestId) : ctx;
}

export function currentRequestId(): string | undefined {
  return context.active().getValue(REQUEST_ID) as string | undefined;
}

/** Whether the standard OTLP variables ask for traces to be exported. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/**
 * Tracing for this process, or undefined when it is off. `spanProcessor` replaces the OTLP export
 * (tests pass an in-memory one); the exporter reads the other OTEL_EXPORTER_OTLP_* variables itself.
 */
export function setupTracing(serviceName: string, options: { env?: NodeJS.ProcessEnv; spanProcessor?: SpanProcessor } = {}): Tracing | undefined {
  const env = options.env ?? process.env;
  if (!options.spanProcessor && !tracingRequested(env)) return undefined;
  installContext();
  const resource = Resource.default().merge(new Resource({ 'service.name': env.OTEL_SERVICE_NAME || serviceName }));
  const spanProcessor = options.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Only requests made inside a traced operation get a span: a downstream call of an activity or of the edge.
  const undici = new UndiciInstrumentation({
    requireParentforSpans: true,
    requestHook: (span, request) => span.updateName(`${request.method} ${new URL(String(request.origin)).host}`),
  });
  undici.setTracerProvider(provider);
  undici.enable();
  return {
    tracer: provider.getTracer('saga-coordinator'),
    spanProcessor,
    resource,
    async shutdown() {
      undici.disable();
      await provider.shutdown();
    },
  };
}
