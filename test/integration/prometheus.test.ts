/**
 * `npm start` with a real Prometheus (Debian's package), on free ports and a data dir of its own:
 * Prometheus scrapes the API, the worker (with the Temporal SDK's own metrics) and the dev server,
 * and the outcome of orders placed through the API reads back through Prometheus's HTTP API.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../scripts/lib/local';
import { stopProcess } from '../../scripts/lib/processes';
import { signAccessToken } from '../../src/api/middleware/auth';
import { eventually } from '../support/eventually';
import { supervisorEnv } from '../support/ports';
import { ORDER_BODY } from '../support/stack';

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'saga-prometheus-'));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(prometheus: string, promql: string): Promise<Sample[]> {
  const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`query failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** `{label value: sample value}` of a query's result, by one label. */
async function byLabel(prometheus: string, promql: string, label: string): Promise<Record<string, number>> {
  return Object.fromEntries((await query(prometheus, promql)).map((s) => [s.metric[label], Number(s.value[1])]));
}

test('Prometheus scrapes the API, the worker and the dev server, and reads back how many orders completed or were compensated', async () => {
  const env = await supervisorEnv(dataDir);
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'start.ts')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  try {
    await eventually(async () => (output.includes('[start] ready in') ? true : undefined), 120_000).catch((err: Error) => {
      throw new Error(`${err.message}; npm start printed:\n${output.slice(-3000)}`);
    });
    const prometheus = `http://127.0.0.1:${env.PROMETHEUS_PORT}`;
    expect(output).toContain(`Prometheus    ${prometheus}`);

    const api = `http://127.0.0.1:${env.PORT}`;
    const secret = readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim();
    const token = await signAccessToken({ secret, issuer: 'saga-coordinator', audience: 'saga-coordinator', subject: 'prom-alice', roles: [] });
    const place = (key: string, body: unknown) =>
      fetch(`${api}/v1/orders`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    expect((await place('p-1', ORDER_BODY)).status).toBe(201);
    expect((await place('p-2', ORDER_BODY)).status).toBe(201);
    expect((await place('p-3', { ...ORDER_BODY, paymentMethod: { token: 'tok_chargeDeclined' } })).status).toBe(422);

    // Every target is up: the API, the worker and the dev server.
    const up = await eventually(async () => {
      const targets = await byLabel(prometheus, 'up', 'job');
      return targets['saga-api'] === 1 && targets['saga-worker'] === 1 && targets.temporal === 1 ? targets : undefined;
    }, 60_000);
    expect(Object.keys(up).sort()).toEqual(['saga-api', 'saga-worker', 'temporal']);

    const outcomes = await eventually(async () => {
      const settled = await byLabel(prometheus, 'sum by (outcome) (saga_transactions_settled_total{kind="order"})', 'outcome');
      return settled.completed === 2 && settled.compensated === 1 ? settled : undefined;
    }, 60_000);
    expect(outcomes).toEqual({ completed: 2, compensated: 1 });

    const routes = await byLabel(prometheus, 'sum by (route) (saga_http_request_duration_seconds_count{method="POST"})', 'route');
    expect(routes['/v1/orders']).toBe(3);
    // The Temporal SDK's own metrics come with the worker's, the server's from the dev server.
    expect((await query(prometheus, 'temporal_workflow_completed{job="saga-worker"}')).length).toBeGreaterThan(0);
    expect((await query(prometheus, '{job="temporal", __name__=~"service_requests|persistence_requests"}')).length).toBeGreaterThan(0);
  } finally {
    await stopProcess(child, 20_000);
  }
}, 240_000);
