/** The OpenAPI document against the app that serves it: same routes both ways, every problem type documented, /docs under helmet's CSP. */
import { readFileSync, readdirSync } from 'node:fs';
import { createMetrics } from '../../src/metrics';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import type { Client } from '@temporalio/client';
import { createApp } from '../../src/api/app';
import { PROBLEM_TYPES, openApiDocument } from '../../src/api/openapi';
import type { OrderHistory } from '../../src/api/order-history';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { documentedRoutes, servedRoutes } from '../support/contract';

// Nothing here calls Temporal: building the app only wires routes.
const client = { options: { namespace: 'default' } } as unknown as Client;
const history = { read: jest.fn(), purge: jest.fn() } as unknown as OrderHistory;
const config = loadConfig({
  JWT_SECRET: 'x'.repeat(32),
  PAYMENTS_WEBHOOK_SECRETS: 'whsec_a',
  PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
  LOG_LEVEL: 'silent',
});
const logger = createLogger('silent', 'test');

test.each([
  ['everything configured', { history, config, metrics: createMetrics() }],
  ['no history proxy, no payment webhooks, no codec, no metrics', { history: undefined, config: { ...config, PAYMENTS_WEBHOOK_SECRETS: [], PAYLOAD_KEYS: [] }, metrics: undefined }],
])('every route the app serves is in the document, and every documented operation is served (%s)', (_name, deps) => {
  const app = createApp({ client, logger, ...deps });
  const doc = openApiDocument({ history: Boolean(deps.history), paymentsWebhook: deps.config.PAYMENTS_WEBHOOK_SECRETS.length > 0, codec: deps.config.PAYLOAD_KEYS.length > 0, metrics: Boolean(deps.metrics) });
  const served = servedRoutes(app);
  expect(served.length).toBeGreaterThan(10);
  expect(documentedRoutes(doc as never)).toEqual(served);
});

test('every schema in the document compiles as JSON Schema 2020-12, and refs resolve', () => {
  const doc = openApiDocument({ history: true, paymentsWebhook: true, codec: true }) as { openapi: string; components: { schemas: Record<string, object> } };
  expect(doc.openapi).toBe('3.1.0');
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  for (const name of Object.keys(doc.components.schemas)) expect(() => ajv.getSchema(`doc#/components/schemas/${name}`)).not.toThrow();
  const validate = ajv.getSchema('doc#/components/schemas/PlaceOrder')!;
  expect(validate({ items: [{ sku: 'a', quantity: 1, unitPrice: '1.00' }], currency: 'USD', paymentMethod: { token: 'tok_visa' } })).toBe(true);
  expect(validate({ items: [], currency: 'USD', paymentMethod: { token: 'tok_visa' } })).toBe(false);
});

test('every problem type the code raises is documented, in the document and in docs/problems.md', () => {
  const sources: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.ts')) sources.push(readFileSync(join(dir, entry.name), 'utf8'));
    }
  };
  walk(join(__dirname, '../../src/api'));
  const raised = new Set([...sources.join('\n').matchAll(/HttpProblem\(\s*\d{3},\s*[`'"]([a-z-]+)[`'"]/g)].map((m) => m[1]!));
  raised.add('rate-limited').add('bad-request').add('headers-too-large');
  expect(raised.size).toBeGreaterThan(20);
  const documented = Object.keys(PROBLEM_TYPES);
  for (const slug of raised) expect(documented).toContain(slug);
  const catalogue = readFileSync(join(__dirname, '../../docs/problems.md'), 'utf8');
  for (const slug of documented) expect(catalogue).toContain(`urn:saga-coordinator:problem:${slug}\``);
});

test('/openapi.json is served, and /docs (Swagger UI) loads its assets from here under helmet\'s CSP', async () => {
  const app = createApp({ client, logger, config, history });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const doc = await fetch(`${base}/openapi.json`);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { paths: object }).paths).toHaveProperty(['/v1/orders', 'post']);
    const page = await fetch(`${base}/docs/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    const html = await page.text();
    // Every script is a file served here ('self'), none inline and none from a CDN.
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(inline!.trim()).toBe('');
      const src = /src="([^"]+)"/.exec(attrs!)![1]!;
      expect(src).not.toMatch(/^https?:/);
      const asset = await fetch(new URL(src, `${base}/docs/`));
      expect(asset.status).toBe(200);
      if (src.includes('init')) expect(await asset.text()).toContain('/openapi.json');
    }
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
