/**
 * Workflow interceptors (bundled with the workflows, so deterministic: no I/O, only sinks). They
 * report each saga's start and final outcome to the worker's metrics through a sink, which the SDK
 * never calls while replaying, add the saga's request ID to every workflow log line, and trace the
 * run and each activity it schedules, local or not (OpenTelemetry; spans leave through the `exporter` sink).
 *
 * A run is traced when its start carries a trace context (the edge's client interceptor adds one
 * when tracing is on): that is in the history, so a replay decides the same. An untraced run never
 * loads OpenTelemetry (required lazily: a worker evaluates the bundle's modules again for every
 * workflow, and the tracing modules were ~2 ms of each saga's first task) and creates no spans.
 * Traced or not, commands go out at the same moments: on histories made since the SDK's
 * "avoids extra yields" flag, the tracing interceptors call `next` synchronously. Only the run and
 * the activity scheduling are traced: OpenTelemetry's update/signal/query interceptors add yields
 * that do not replay against histories recorded without them (checked by test/unit/replay.test.ts).
 */
import { ApplicationFailure, proxySinks, workflowInfo, type Sinks, type WorkflowInterceptors } from '@temporalio/workflow';
import type * as OpenTelemetryWorkflow from '@temporalio/interceptors-opentelemetry/lib/workflow';

/** The header the edge's OpenTelemetry client interceptor puts the trace context in (`TRACE_HEADER` of the interceptors package). */
const TRACE_HEADER = '_tracer-data';

interface Tracing {
  inbound: OpenTelemetryWorkflow.OpenTelemetryInboundInterceptor;
  outbound: OpenTelemetryWorkflow.OpenTelemetryOutboundInterceptor;
  internals: OpenTelemetryWorkflow.OpenTelemetryInternalsInterceptor;
}

function loadTracing(): Tracing {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- evaluated only for a traced run (see above)
  const otel = require('@temporalio/interceptors-opentelemetry/lib/workflow') as typeof OpenTelemetryWorkflow;
  return { inbound: new otel.OpenTelemetryInboundInterceptor(), outbound: new otel.OpenTelemetryOutboundInterceptor(), internals: new otel.OpenTelemetryInternalsInterceptor() };
}

export type SagaOutcome = 'completed' | 'compensated' | 'failed';

export interface SagaSinks extends Sinks {
  sagaMetrics: {
    started(kind: string): void;
    settled(kind: string, outcome: SagaOutcome): void;
  };
}

/** Workflow types that are transactions, by the kind metrics call them. */
const KINDS: Record<string, string> = { orderSaga: 'order', refundSaga: 'refund' };

/** A saga fails with its final status in the failure's details: `compensated` when everything was undone. */
function outcomeOf(err: unknown): SagaOutcome {
  if (err instanceof ApplicationFailure) {
    const status = (err.details?.[0] as { status?: unknown } | undefined)?.status;
    if (status === 'compensated') return 'compensated';
  }
  return 'failed';
}

export const interceptors = (): WorkflowInterceptors => {
  const { sagaMetrics } = proxySinks<SagaSinks>();
  const kind = KINDS[workflowInfo().workflowType];
  let requestId: string | undefined;
  let tracing: Tracing | undefined;
  return {
    inbound: [
      {
        execute(input, next) {
          if (input.headers[TRACE_HEADER] === undefined) return next(input);
          tracing = loadTracing();
          return tracing.inbound.execute(input, next);
        },
      },
      {
        async execute(input, next) {
          const first = input.args[0] as { requestId?: unknown } | undefined;
          if (typeof first?.requestId === 'string') requestId = first.requestId;
          if (!kind) return next(input);
          sagaMetrics.started(kind);
          try {
            const result = await next(input);
            sagaMetrics.settled(kind, 'completed');
            return result;
          } catch (err) {
            sagaMetrics.settled(kind, outcomeOf(err));
            throw err;
          }
        },
      },
    ],
    outbound: [
      {
        scheduleActivity: (input, next) => (tracing ? tracing.outbound.scheduleActivity(input, next) : next(input)),
        // The fast path's local activities are traced the same way (SDK-flagged: older histories replay untraced).
        scheduleLocalActivity: (input, next) => (tracing ? tracing.outbound.scheduleLocalActivity(input, next) : next(input)),
      },
      {
        getLogAttributes: (attrs, next) => next(requestId ? { ...attrs, requestId } : attrs),
      },
    ],
    internals: [{ dispose: (input, next) => (tracing ? tracing.internals.dispose(input, next) : next(input)) }],
  };
};
