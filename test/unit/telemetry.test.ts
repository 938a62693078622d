/**
 * Telemetry switches and shapes that need no Temporal: traces are exported over OTLP/HTTP only
 * when the standard OTEL_EXPORTER_OTLP_* variables say where; the Temporal SDK's log lines come out
 * through pino in our field names, without the activity task token; secrets are redacted; a
 * breaker's state reaches its metric.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config';
import { createLogger, temporalLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { setupTracing, tracingRequested } from '../../src/tracing';
import { createDownstreamClients } from '../../src/worker';
import { freePort } from '../support/ports';

test('tracing is off unless an OTLP endpoint is configured', () => {
  expect(tracingRequested({})).toBe(false);
  expect(setupTracing('test', { env: {} })).toBeUndefined();
  expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
  expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
  expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
});

test('with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported there over OTLP/HTTP with the service name', async () => {
  const received: { path?: string; body: string }[] = [];
  const collector = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const saved = { ...process.env };
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  process.env.OTEL_SERVICE_NAME = 'saga-test-service';
  try {
    const tracing = setupTracing('fallback-name');
    expect(tracing).toBeDefined();
    tracing!.tracer.startSpan('a unit of work').end();
    await tracing!.shutdown(); // flushes the batch
    expect(received).toHaveLength(1);
    expect(received[0]!.path).toBe('/v1/traces');
    expect(received[0]!.body).toContain('saga-test-service');
    expect(received[0]!.body).toContain('a unit of work');
  } finally {
    process.env = saved;
    collector.close();
  }
});

test('the Temporal SDK logs through pino with requestId, workflowId, runId, activity and attempt, and never the task token', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('debug', 'worker', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const sdk = temporalLogger(logger, (_level, m) => m.startsWith('No activities'));
  sdk.info('Activity completed', { requestId: 'req-1', workflowId: 'order:a:1', workflowRunId: 'run-1', activityType: 'chargePayment', attempt: 2, taskToken: 'c2VjcmV0' });
  sdk.warn('No activities registered, not polling for activity tasks');
  sdk.log('ERROR', 'Workflow failed', { workflowId: 'order:a:1', runId: 'run-1' });
  expect(lines).toEqual([
    expect.objectContaining({ level: 30, name: 'worker', msg: 'Activity completed', requestId: 'req-1', workflowId: 'order:a:1', runId: 'run-1', activity: 'chargePayment', attempt: 2 }),
    expect.objectContaining({ level: 50, msg: 'Workflow failed', workflowId: 'order:a:1', runId: 'run-1' }),
  ]);
  expect(JSON.stringify(lines)).not.toContain('c2VjcmV0');
});

test('payment tokens, authorization headers and API keys are redacted wherever a line carries them', () => {
  const out: string[] = [];
  const logger = createLogger('info', 'api', { write: (l: string) => void out.push(l) });
  logger.info({ req: { headers: { authorization: 'Bearer eyJhbGciOi.secret' } }, order: { paymentMethod: { token: 'tok_visa' } } }, 'one');
  logger.info({ headers: { authorization: 'Bearer sk_live_1' }, apiKey: 'sk_live_2', config: { credentials: ['sk_live_3'] }, token: 'tok_mastercard' }, 'two');
  const all = out.join('');
  for (const secret of ['eyJhbGciOi', 'tok_visa', 'sk_live_1', 'sk_live_2', 'sk_live_3', 'tok_mastercard']) expect(all).not.toContain(secret);
  expect(all.match(/\[redacted\]/g)).toHaveLength(6);
});

test('a downstream breaker that opens shows in saga_circuit_breaker_state', async () => {
  const metrics = createMetrics();
  const down = `http://127.0.0.1:${await freePort()}`; // nothing listens: every call is refused
  const clients = createDownstreamClients(loadConfig({ PAYMENTS_URL: down, BREAKER_THRESHOLD: '2', BREAKER_HALF_OPEN_MS: '60000' }), undefined, metrics);
  const state = async () => (await metrics.registry.getSingleMetricAsString('saga_circuit_breaker_state')).split('\n').filter((l) => l.includes('downstream="payments"') && l.endsWith(' 1'));
  try {
    expect(await state()).toEqual(['saga_circuit_breaker_state{downstream="payments",state="closed"} 1']);
    for (let i = 0; i < 2; i++) await expect(clients.payments.findChargeByReference('r')).rejects.toThrow();
    expect(await state()).toEqual(['saga_circuit_breaker_state{downstream="payments",state="open"} 1']);
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.http.close()));
  }
});
