/** The shared test environment written by global-setup. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR, TEMPORAL_TEST_SERVER } from '../../scripts/lib/local';

export interface TestEnv {
  /** `dev` (an in-memory dev server) or `cluster` (SAGA_PROFILE=cluster: the local multi-service cluster). */
  profile: 'dev' | 'cluster';
  temporalAddress: string;
  /** TEMPORAL_* settings every client and worker of the run uses: the address, plus namespace and mTLS files on the cluster. */
  temporalEnv: Record<string, string>;
  /** The cluster's directory (its cluster.json names the current PIDs); cluster profile only. */
  clusterDir?: string;
  legacyUrl: string;
  paymentsUrl: string;
  fulfilmentUrl: string;
  bundlePath: string;
  /** PAYLOAD_KEYS shared by every stack and worker of the run. */
  payloadKeys: string;
}

export function testEnv(): TestEnv {
  return JSON.parse(readFileSync(join(DATA_DIR, 'test', 'env.json'), 'utf8')) as TestEnv;
}

/** The time-skipping test server installed by scripts/install-temporal.sh (never downloaded by the SDK). */
export const timeSkippingServer = { type: 'time-skipping', executable: { type: 'existing-path', path: TEMPORAL_TEST_SERVER } } as const;
