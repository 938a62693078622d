/**
 * Starts what every test file shares, once per `jest` run: a real Temporal dev server (in memory,
 * our search attributes registered, eager start on), the three simulators as real processes, and
 * the workflow bundle. Test files read the addresses from .data/test/env.json.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR } from '../../scripts/lib/local';
import { writeWorkflowBundle } from '../../scripts/lib/bundle';
import { firstJsonLine, spawnTs } from '../../scripts/lib/processes';
import type { TestEnv } from './env';
import { startDevServer } from './dev-server';
import { freePort } from './ports';

declare global {
  var __SAGA_TEST_PROCESSES__: ChildProcess[] | undefined;
}

/** The simulators accept two keys, as during a rotation: the current one and the previous one. */
const SIM_API_KEYS = ['sk_test_current', 'sk_test_previous'];

async function startSimulator(name: string): Promise<{ child: ChildProcess; url: string }> {
  // Webhook retries start at 200 ms so that tests of a provider's retry stay short.
  const child = spawnTs('sim/main.ts', [name, '0'], { ...process.env, SIM_API_KEYS: SIM_API_KEYS.join(','), SIM_WEBHOOK_RETRY_MS: '200' });
  child.stderr?.pipe(process.stderr);
  const ready = await firstJsonLine(child, (v): v is { url: string } => typeof (v as { url?: unknown })?.url === 'string');
  return { child, url: ready.url };
}

export default async function globalSetup(): Promise<void> {
  const dir = join(DATA_DIR, 'test');
  mkdirSync(dir, { recursive: true });
  const bundlePath = join(dir, 'workflow-bundle.js');
  const [server, legacy, payments, fulfilment] = await Promise.all([
    startDevServer({ port: await freePort() }),
    startSimulator('legacy-ecommerce'),
    startSimulator('payments'),
    startSimulator('fulfilment'),
    // With the interceptors every worker runs (metrics, logs, traces).
    writeWorkflowBundle(bundlePath),
  ]);
  globalThis.__SAGA_TEST_PROCESSES__ = [server.child, legacy.child, payments.child, fulfilment.child];
  // One payload key for the whole run, as for one deployment: every stack's client lists every workflow of the shared namespace.
  const payloadKeys = `test-${randomBytes(4).toString('hex')}:${randomBytes(32).toString('base64')}`;
  const env: TestEnv = { temporalAddress: server.address, legacyUrl: legacy.url, paymentsUrl: payments.url, fulfilmentUrl: fulfilment.url, bundlePath, payloadKeys };
  writeFileSync(join(dir, 'env.json'), JSON.stringify(env, null, 2));
}
