/**
 * The Temporal connection shared by the API (client) and the worker (native connection): the
 * embedded dev server by default, any cluster or Temporal Cloud (mTLS or API key) by config.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig, type WorkflowClientInterceptor } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import { dataConverter } from './codec';
import { clientInterceptors } from './interceptors';

function tlsOptions(config: Config): TLSConfig | boolean | undefined {
  const { TEMPORAL_TLS_CERT_PATH: cert, TEMPORAL_TLS_KEY_PATH: key, TEMPORAL_TLS_CA_PATH: ca, TEMPORAL_TLS_SERVER_NAME: serverNameOverride } = config;
  if (!config.TEMPORAL_TLS && !cert && !config.TEMPORAL_API_KEY) return undefined;
  if (!cert && !ca && !serverNameOverride) return true;
  return {
    serverNameOverride,
    serverRootCACertificate: ca ? readFileSync(ca) : undefined,
    clientCertPair: cert && key ? { crt: readFileSync(cert), key: readFileSync(key) } : undefined,
  };
}

export function connectionOptions(config: Config) {
  return { address: config.TEMPORAL_ADDRESS, tls: tlsOptions(config), apiKey: config.TEMPORAL_API_KEY };
}

/** `interceptors` default to the request-ID memo alone (no spans); see clientInterceptors(tracing). */
export async function createClient(config: Config, interceptors: WorkflowClientInterceptor[] = clientInterceptors()): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config));
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverter(config), interceptors: { workflow: interceptors } });
}

export function createNativeConnection(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}
