/**
 * What the API's client and the workers add to Temporal for observability, without touching a saga
 * or an activity: the request ID kept in each saga's memo; OpenTelemetry spans (client, workflow,
 * activity) when tracing is on; per-activity metrics and log lines that carry requestId,
 * workflowId, runId, activity and attempt; and the sinks the workflow interceptors report to.
 */
import { context as otelContext } from '@opentelemetry/api';
import type { Info as ActivityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { ORDER_COMPENSATIONS } from '../contracts/order';
import { REFUND_COMPENSATIONS } from '../contracts/refund';
import type { Logger } from '../logger';
import { DOWNSTREAMS, type Metrics } from '../metrics';
import { withRequestId, type Tracing } from '../tracing';
import type { SagaSinks } from './workflow-interceptors';

/** Request ID of a saga or activity input (every transaction envelope and activity input carries one). */
function requestIdOf(args: readonly unknown[]): string | undefined {
  const first = args[0] as { requestId?: unknown } | undefined;
  return typeof first?.requestId === 'string' && first.requestId ? first.requestId : undefined;
}

/** Keeps the caller's request ID in the memo of every workflow the edge starts: visible in the Web UI and `describe`. */
export const requestIdMemo: WorkflowClientInterceptor = {
  startWithDetails(input, next) {
    const requestId = requestIdOf(input.options.args);
    return next(requestId ? { ...input, options: { ...input.options, memo: { ...input.options.memo, requestId } } } : input);
  },
  signalWithStart(input, next) {
    const requestId = requestIdOf(input.options.args);
    return next(requestId ? { ...input, options: { ...input.options, memo: { ...input.options.memo, requestId } } } : input);
  },
  startUpdateWithStart(input, next) {
    const requestId = requestIdOf(input.workflowStartOptions.args);
    return next(requestId ? { ...input, workflowStartOptions: { ...input.workflowStartOptions, memo: { ...input.workflowStartOptions.memo, requestId } } } : input);
  },
};

/** The client's interceptors: the request ID memo always, spans when tracing is on. */
export function clientInterceptors(tracing?: Tracing): WorkflowClientInterceptor[] {
  return [requestIdMemo, ...(tracing ? [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] : [])];
}

/** The workflow interceptor modules every bundle carries (tracing on or off: see the module). */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('./workflow-interceptors')];

const COMPENSATIONS = new Set<string>(Object.values(ORDER_COMPENSATIONS));
const REFUND_UNDOS = new Set<string>(Object.values(REFUND_COMPENSATIONS));

/** Which downstream an activity calls: its task queue is that downstream's (after the deployment's prefix). */
export function downstreamOf(taskQueue: string): string {
  return DOWNSTREAMS.find((d) => taskQueue.endsWith(d)) ?? 'other';
}

/** The fast path's local activities run on the workflow's queue: their downstream comes from the step. */
const LOCAL_STEP_DOWNSTREAM: Record<string, (typeof DOWNSTREAMS)[number]> = {
  createOrder: 'legacy-ecommerce',
  completeOrder: 'legacy-ecommerce',
  chargePayment: 'payments',
  grantAccess: 'fulfilment',
};

function downstreamOfActivity(info: ActivityInfo): string {
  return info.isLocal ? (LOCAL_STEP_DOWNSTREAM[info.activityType] ?? 'other') : downstreamOf(info.taskQueue);
}

/** A compensation of the order saga (the refund saga's steps are forward steps, even where they share an activity). */
function kindOf(info: ActivityInfo): 'step' | 'compensation' {
  if (info.workflowType === 'refundSaga') return REFUND_UNDOS.has(info.activityType) ? 'compensation' : 'step';
  return info.workflowType === 'orderSaga' && COMPENSATIONS.has(info.activityType) ? 'compensation' : 'step';
}

export interface ObservabilityDeps {
  metrics?: Metrics;
  tracing?: Tracing;
  logger?: Logger;
}

/**
 * Per activity: runs it in an async context that carries its request ID (so client and breaker log
 * lines carry it), times it into `saga_activity_duration_seconds`, writes one log line when it
 * ends, and adds requestId to the SDK's own activity log attributes.
 */
export function activityInterceptors({ metrics, tracing, logger }: ObservabilityDeps): ActivityInterceptorsFactory[] {
  const ours: ActivityInterceptorsFactory = (ctx) => {
    let requestId: string | undefined;
    return {
      inbound: {
        async execute(input, next) {
          requestId = requestIdOf(input.args);
          const { info } = ctx;
          const labels = { downstream: downstreamOfActivity(info), activity: info.activityType, kind: kindOf(info) };
          const fields = { requestId, workflowId: info.workflowExecution?.workflowId, runId: info.workflowExecution?.runId, activity: info.activityType, attempt: info.attempt };
          const started = performance.now();
          const run = () => next(input);
          try {
            const result = await otelContext.with(withRequestId(otelContext.active(), requestId), run);
            metrics?.activityDuration.observe({ ...labels, outcome: 'ok' }, (performance.now() - started) / 1000);
            logger?.info({ ...fields, durationMs: Math.round(performance.now() - started) }, 'activity completed');
            return result;
          } catch (err) {
            const retryable = !(err instanceof ApplicationFailure && err.nonRetryable);
            metrics?.activityDuration.observe({ ...labels, outcome: retryable ? 'retryable' : 'error' }, (performance.now() - started) / 1000);
            logger?.warn({ ...fields, durationMs: Math.round(performance.now() - started), error: { type: err instanceof ApplicationFailure ? err.type : (err as Error)?.name, message: (err as Error)?.message }, retryable }, 'activity failed');
            throw err;
          }
        },
      },
      outbound: {
        getLogAttributes: (attrs, next) => next(requestId ? { ...attrs, requestId } : attrs),
      },
    };
  };
  const traced: ActivityInterceptorsFactory[] = tracing
    ? [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })]
    : [];
  // OpenTelemetry's first, so that ours (and the activity) run inside the activity's span.
  return [...traced, ours];
}

/** Sinks the workflow interceptors call (never during replay): saga outcomes into metrics, workflow spans to the exporter. */
export function workerSinks({ metrics, tracing }: ObservabilityDeps): InjectedSinks<SagaSinks & OpenTelemetrySinks> {
  return {
    sagaMetrics: {
      started: { fn: (_info, kind) => metrics?.transactionsStarted.inc({ kind }) },
      settled: { fn: (_info, kind, outcome) => metrics?.transactionsSettled.inc({ kind, outcome }) },
    },
    // Always present: the bundle's tracing interceptors call it whether or not this worker exports spans.
    exporter: tracing ? makeWorkflowExporter(tracing.spanProcessor, tracing.resource) : { export: { fn: () => undefined } },
  };
}
