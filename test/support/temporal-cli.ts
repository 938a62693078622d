/** The Temporal CLI's connection flags for a config: the address, and on a cluster the namespace and mTLS files too. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TEMPORAL_CLI } from '../../scripts/lib/local';
import type { Config } from '../../src/config';

export function temporalCliFlags(config: Config): string[] {
  const { TEMPORAL_TLS_CERT_PATH: cert, TEMPORAL_TLS_KEY_PATH: key, TEMPORAL_TLS_CA_PATH: ca, TEMPORAL_TLS_SERVER_NAME: serverName } = config;
  return [
    '--address', config.TEMPORAL_ADDRESS,
    '--namespace', config.TEMPORAL_NAMESPACE,
    ...(cert && key ? ['--tls-cert-path', cert, '--tls-key-path', key] : []),
    ...(ca ? ['--tls-ca-path', ca] : []),
    ...(serverName ? ['--tls-server-name', serverName] : []),
  ];
}

/** The Temporal CLI's own `workflow reset`, as support would type it (to the first or last workflow task, or to an event); resolves with what it printed. */
export async function pressCliReset(config: Config, workflowId: string, reason: string, to: { eventId: number } | 'FirstWorkflowTask' | 'LastWorkflowTask' = 'FirstWorkflowTask'): Promise<string> {
  const target = typeof to === 'string' ? ['--type', to] : ['--event-id', String(to.eventId)];
  const { stdout } = await promisify(execFile)(TEMPORAL_CLI, ['workflow', 'reset', ...temporalCliFlags(config), '--workflow-id', workflowId, ...target, '--reason', reason], { timeout: 30_000 });
  return stdout;
}
