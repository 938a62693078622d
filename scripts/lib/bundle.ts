/**
 * The workflow bundle as every worker runs it — our workflows with their interceptor modules — built
 * once and written to a file that workers load (WORKFLOW_BUNDLE_PATH, the tests' shared bundle), so
 * a restarted worker does not bundle again and every bundle is the same.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/temporal/interceptors';
import { ROOT } from './local';

const QUIET = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} };

export async function writeWorkflowBundle(path: string): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: join(ROOT, 'src', 'workflows', 'index.ts'), workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, logger: QUIET as never });
  writeFileSync(path, code);
}
