/**
 * Starts what every test file shares, once per `jest` run: a real Temporal dev server (in memory,
 * our search attributes registered, eager start on), the three simulators as real processes, and
 * the workflow bundle. Test files read the addresses from .data/test/env.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { searchAttributeFlags } from '../../src/temporal/search-attributes';
import { DATA_DIR, ROOT, TEMPORAL_CLI } from '../../scripts/lib/local';
import { firstJsonLine, spawnTs, waitUntil } from '../../scripts/lib/processes';
import type { TestEnv } from './env';
import { freePort } from './ports';

declare global {
  var __SAGA_TEST_PROCESSES__: ChildProcess[] | undefined;
}

async function startDevServer(): Promise<{ child: ChildProcess; address: string }> {
  const port = await freePort();
  const args = [
    'server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error',
    '--dynamic-config-value', 'system.enableEagerWorkflowStart=true',
    ...searchAttributeFlags(),
  ];
  const child = spawn(TEMPORAL_CLI, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const address = `127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    },
    60_000,
    'the Temporal dev server',
  );
  return { child, address };
}

/** The simulators accept two keys, as during a rotation: the current one and the previous one. */
const SIM_API_KEYS = ['sk_test_current', 'sk_test_previous'];

async function startSimulator(name: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnTs('sim/main.ts', [name, '0'], { ...process.env, SIM_API_KEYS: SIM_API_KEYS.join(',') });
  child.stderr?.pipe(process.stderr);
  const ready = await firstJsonLine(child, (v): v is { url: string } => typeof (v as { url?: unknown })?.url === 'string');
  return { child, url: ready.url };
}

export default async function globalSetup(): Promise<void> {
  const dir = join(DATA_DIR, 'test');
  mkdirSync(dir, { recursive: true });
  const bundlePath = join(dir, 'workflow-bundle.js');
  const [server, legacy, payments, fulfilment, bundle] = await Promise.all([
    startDevServer(),
    startSimulator('legacy-ecommerce'),
    startSimulator('payments'),
    startSimulator('fulfilment'),
    bundleWorkflowCode({ workflowsPath: join(ROOT, 'src', 'workflows', 'index.ts'), logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never }),
  ]);
  writeFileSync(bundlePath, bundle.code);
  globalThis.__SAGA_TEST_PROCESSES__ = [server.child, legacy.child, payments.child, fulfilment.child];
  const env: TestEnv = { temporalAddress: server.address, legacyUrl: legacy.url, paymentsUrl: payments.url, fulfilmentUrl: fulfilment.url, bundlePath };
  writeFileSync(join(dir, 'env.json'), JSON.stringify(env, null, 2));
}
