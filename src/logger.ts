/**
 * JSON logs (pino) with secrets redacted wherever they might appear, the same shape in the API, the
 * workers and the Temporal SDK: every line written while serving a request carries its `requestId`
 * and, when traced, its `trace_id`/`span_id`.
 */
import { context, trace } from '@opentelemetry/api';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import pino from 'pino';
import { currentRequestId } from './tracing';

export type Logger = pino.Logger;

/** Payment tokens (`tok_…`), API keys and bearer credentials, wherever they sit in a line. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'paymentMethod',
  '*.paymentMethod',
  'apiKey',
  '*.apiKey',
  'apiKeys',
  'credentials',
  '*.credentials',
  'secret',
  '*.secret',
  'taskToken',
];

export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    mixin() {
      const requestId = currentRequestId();
      const span = trace.getSpan(context.active())?.spanContext();
      return {
        ...(requestId ? { requestId } : {}),
        ...(span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {}),
      };
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The SDK's log attributes, renamed to the fields our lines use. */
function fields(meta: LogMetadata = {}): Record<string, unknown> {
  const { activityType, workflowRunId, taskToken: _taskToken, ...rest } = meta as Record<string, unknown>;
  return {
    ...rest,
    ...(activityType !== undefined ? { activity: activityType } : {}),
    ...(workflowRunId !== undefined ? { runId: workflowRunId } : {}),
  };
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** The Temporal SDK's logger (Runtime, workflows through their sink, activities' Context.log) writing through pino; `ignore` drops lines. */
export function temporalLogger(logger: Logger, ignore?: (level: LogLevel, message: string, meta?: LogMetadata) => boolean): TemporalLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (ignore?.(level, message, meta)) return;
    logger[LEVELS[level]](fields(meta), message);
  };
  return {
    log: write,
    trace: (m, meta) => write('TRACE', m, meta),
    debug: (m, meta) => write('DEBUG', m, meta),
    info: (m, meta) => write('INFO', m, meta),
    warn: (m, meta) => write('WARN', m, meta),
    error: (m, meta) => write('ERROR', m, meta),
  };
}
