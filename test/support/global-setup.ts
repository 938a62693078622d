/**
 * Starts what every test file shares, once per `jest` run: a real Temporal dev server (in memory,
 * our search attributes registered, eager start on) — or, with SAGA_PROFILE=cluster, the local
 * multi-service cluster on PostgreSQL with mTLS (scripts/lib/cluster, its database kept in
 * .data/test/cluster between runs) — the three simulators as real processes, and the workflow
 * bundle. Test files read the addresses from .data/test/env.json.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeWorkflowBundle } from '../../scripts/lib/bundle';
import { startCluster, type Cluster } from '../../scripts/lib/cluster';
import { DATA_DIR } from '../../scripts/lib/local';
import { firstJsonLine, spawnTs } from '../../scripts/lib/processes';
import type { TestEnv } from './env';
import { startDevServer } from './dev-server';
import { freePort } from './ports';

declare global {
  var __SAGA_TEST_PROCESSES__: ChildProcess[] | undefined;
  var __SAGA_TEST_CLUSTER__: Cluster | undefined;
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

/** The Temporal side of the run: TEMPORAL_* settings for clients and workers, and what to stop afterwards. */
async function startTemporal(dir: string): Promise<Pick<TestEnv, 'profile' | 'temporalAddress' | 'temporalEnv' | 'clusterDir'> & { child?: ChildProcess }> {
  if (process.env.SAGA_PROFILE === 'cluster') {
    const clusterDir = join(dir, 'cluster');
    const log = (m: string) => process.stderr.write(`[cluster] ${m}\n`);
    // The database is kept between runs (a fast start); a namespace of its own keeps each run's workflow IDs apart.
    // A killed history process comes back after 30 s, as under an orchestrator: long enough for
    // test/cluster/history-failover.test.ts to see its shards served by the other history process meanwhile.
    const namespace = `it-${Date.now().toString(36)}`;
    const cluster = await startCluster({ dir: clusterDir, namespace, restartDelayMs: 30_000, log });
    globalThis.__SAGA_TEST_CLUSTER__ = cluster;
    return { profile: 'cluster', temporalAddress: cluster.address, temporalEnv: cluster.env, clusterDir };
  }
  const server = await startDevServer({ port: await freePort() });
  return { profile: 'dev', temporalAddress: server.address, temporalEnv: { TEMPORAL_ADDRESS: server.address }, child: server.child };
}

export default async function globalSetup(): Promise<void> {
  const dir = join(DATA_DIR, 'test');
  mkdirSync(dir, { recursive: true });
  const bundlePath = join(dir, 'workflow-bundle.js');
  const [temporal, legacy, payments, fulfilment] = await Promise.all([
    startTemporal(dir),
    startSimulator('legacy-ecommerce'),
    startSimulator('payments'),
    startSimulator('fulfilment'),
    // With the interceptors every worker runs (metrics, logs, traces).
    writeWorkflowBundle(bundlePath),
  ]);
  globalThis.__SAGA_TEST_PROCESSES__ = [...(temporal.child ? [temporal.child] : []), legacy.child, payments.child, fulfilment.child];
  // One payload key for the whole run, as for one deployment: every stack's client lists every workflow of the shared namespace.
  const payloadKeys = `test-${randomBytes(4).toString('hex')}:${randomBytes(32).toString('base64')}`;
  const { child: _, ...temporalEnv } = temporal;
  const env: TestEnv = { ...temporalEnv, legacyUrl: legacy.url, paymentsUrl: payments.url, fulfilmentUrl: fulfilment.url, bundlePath, payloadKeys };
  writeFileSync(join(dir, 'env.json'), JSON.stringify(env, null, 2));
}
