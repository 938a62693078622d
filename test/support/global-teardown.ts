/** Stops what global-setup started (the cluster last: PostgreSQL stops after every Temporal process). */
import { stopProcess } from '../../scripts/lib/processes';

export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__SAGA_TEST_PROCESSES__ ?? []).map((child) => stopProcess(child, 5_000)));
  await globalThis.__SAGA_TEST_CLUSTER__?.stop();
}
