/** The Temporal CLI's connection flags for a config: the address, and on a cluster the namespace and mTLS files too. */
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
