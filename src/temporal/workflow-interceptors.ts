/**
 * Workflow interceptors (bundled with the workflows, so deterministic: no I/O, only sinks). They
 * report each saga's start and final outcome to the worker's metrics through a sink, which the SDK
 * never calls while replaying, add the saga's request ID to every workflow log line, and trace the
 * run and each activity it schedules (OpenTelemetry; spans leave through the `exporter` sink).
 *
 * Always in the bundle, tracing on or off: interceptors shape a workflow's command timing, so
 * adding or removing them under running sagas risks non-determinism. Only the run and the activity
 * scheduling are traced: OpenTelemetry's update/signal/query interceptors add yields that do not
 * replay against histories recorded without them (checked by test/unit/replay.test.ts).
 */
import { OpenTelemetryInboundInterceptor, OpenTelemetryInternalsInterceptor, OpenTelemetryOutboundInterceptor } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { ApplicationFailure, proxySinks, workflowInfo, type Sinks, type WorkflowInterceptors } from '@temporalio/workflow';

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
  const tracedIn = new OpenTelemetryInboundInterceptor();
  const tracedOut = new OpenTelemetryOutboundInterceptor();
  return {
    inbound: [
      { execute: (input, next) => tracedIn.execute(input, next) },
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
      { scheduleActivity: (input, next) => tracedOut.scheduleActivity(input, next) },
      {
        getLogAttributes: (attrs, next) => next(requestId ? { ...attrs, requestId } : attrs),
      },
    ],
    internals: [new OpenTelemetryInternalsInterceptor()],
  };
};
