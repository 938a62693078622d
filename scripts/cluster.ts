/**
 * `npm run cluster`: runs the local multi-service Temporal cluster (scripts/lib/cluster) from
 * .data/cluster until Ctrl-C; `SAGA_PROFILE=cluster npm start` in another terminal uses it.
 *
 * `npm run cluster -- --check`: the whole system on the cluster, end to end, then everything stopped:
 * `npm start` with SAGA_PROFILE=cluster on free ports, an order that completes and a declined one that
 * compensates, both found by search attribute through the frontend (and through the Web UI's API),
 * a client without a certificate refused, the shard and history-process counts printed. Exits
 * non-zero on any failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { signAccessToken } from '../src/api/middleware/auth';
import { loadConfig } from '../src/config';
import { dataConverter } from '../src/temporal/codec';
import { connectionOptions } from '../src/temporal/connection';
import { runningCluster, startCluster, type ClusterState } from './lib/cluster';
import { DATA_DIR, ROOT, localJwtSecret, localPayloadKeys } from './lib/local';
import { freePort } from './lib/ports';
import { pollFor, stopProcess } from './lib/processes';

const CLUSTER_DIR = join(DATA_DIR, 'cluster');
const log = (message: string) => process.stdout.write(`[cluster] ${message}\n`);

async function serve(): Promise<void> {
  if (runningCluster(CLUSTER_DIR)) throw new Error(`a cluster already runs from ${CLUSTER_DIR}`);
  const apiPort = Number(process.env.PORT ?? 3000);
  const cluster = await startCluster({
    dir: CLUSTER_DIR,
    frontendPort: Number(process.env.TEMPORAL_PORT ?? 7233),
    uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
    codecEndpoint: `http://127.0.0.1:${apiPort}/codec`,
    log,
  });
  const e = cluster.env;
  log(
    [
      'running; Ctrl-C stops it. Use it with:',
      '  SAGA_PROFILE=cluster npm start          (API, workers and simulators against this cluster)',
      `  .tools/bin/temporal workflow list --address ${e.TEMPORAL_ADDRESS} --namespace ${e.TEMPORAL_NAMESPACE} \\`,
      `      --tls-ca-path ${e.TEMPORAL_TLS_CA_PATH} --tls-cert-path ${e.TEMPORAL_TLS_CERT_PATH} \\`,
      `      --tls-key-path ${e.TEMPORAL_TLS_KEY_PATH} --tls-server-name ${e.TEMPORAL_TLS_SERVER_NAME}`,
    ].join('\n'),
  );
  const stop = () => {
    log('stopping…');
    void cluster.stop().then(() => {
      log('stopped');
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Runs `npm start`'s supervisor with the cluster profile on free ports; resolves once it printed "ready". */
async function startSystem(ports: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'start.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...ports, SAGA_PROFILE: 'cluster', TEMPORAL_ADDRESS: '', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start (cluster profile) not ready within 180 s:\n${output.slice(-4000)}`)), 180_000);
    child.once('exit', (code) => reject(new Error(`npm start (cluster profile) exited (${code}):\n${output.slice(-4000)}`)));
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      for (const line of text.split('\n')) if (line.startsWith('[start] cluster: ') || line.startsWith('[start] ready')) log(line.replace('[start] ', 'start: '));
      if (/\[start\] ready in/.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  });
  return child;
}

function expect(ok: boolean, what: string, detail?: unknown): void {
  if (!ok) throw new Error(`check failed: ${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  log(`ok  ${what}`);
}

async function check(): Promise<void> {
  const t0 = Date.now();
  const [api, temporal, ui, legacy, payments, fulfilment, metrics, prometheus] = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  const ports = {
    PORT: String(api),
    TEMPORAL_PORT: String(temporal),
    TEMPORAL_UI_PORT: String(ui),
    LEGACY_PORT: String(legacy),
    PAYMENTS_PORT: String(payments),
    FULFILMENT_PORT: String(fulfilment),
    METRICS_PORT: String(metrics),
    PROMETHEUS_PORT: String(prometheus),
  };
  if (runningCluster(CLUSTER_DIR)) log(`note: a cluster already runs from ${CLUSTER_DIR}; the check uses it and leaves it running`);
  const system = await startSystem(ports);
  let state: ClusterState | undefined;
  try {
    state = runningCluster(CLUSTER_DIR);
    expect(state !== undefined, 'the cluster runs (its state file names a live frontend)');
    const url = `http://127.0.0.1:${api}`;
    const customer = `check-${randomUUID().slice(0, 8)}`;
    const token = await signAccessToken({ secret: localJwtSecret(), issuer: 'saga-coordinator', audience: 'saga-coordinator', subject: customer });
    const order = (key: string, card: string) =>
      fetch(`${url}/v1/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key, prefer: 'wait=30' },
        body: JSON.stringify({ items: [{ sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '49.00' }], currency: 'USD', paymentMethod: { token: card } }),
      });
    const placed = await order('check-ok', 'tok_visa');
    const placedBody = (await placed.json()) as { status?: string };
    expect(placed.status === 201 && placedBody.status === 'completed', 'an order completes through the cluster (201)', { status: placed.status, body: placedBody });
    const declined = await order('check-declined', 'tok_chargeDeclined');
    const declinedBody = (await declined.json()) as { sagaStatus?: string };
    expect(declined.status === 422 && declinedBody.sagaStatus === 'compensated', 'a declined order is compensated (422)', { status: declined.status, body: declinedBody });

    // Visibility (PostgreSQL) through the frontend, over mTLS, by our search attributes.
    const config = loadConfig({ ...state!.env, PAYLOAD_KEYS: localPayloadKeys() }); // memos are encrypted too
    const connection = await Connection.connect(connectionOptions(config));
    try {
      const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverter(config) });
      const found = await pollFor(
        async () => {
          const statuses: string[] = [];
          for await (const wf of client.workflow.list({ query: `CustomerId = "${customer}" AND SagaStatus IN ("completed", "compensated")` })) {
            statuses.push(String(wf.searchAttributes.SagaStatus?.[0]));
          }
          return statuses.length === 2 ? statuses.sort() : undefined;
        },
        30_000,
        'both orders in visibility',
      );
      expect(found.join() === 'compensated,completed', `both found by CustomerId and SagaStatus through the frontend (${found.join(', ')})`);
      const info = await connection.workflowService.getClusterInfo({});
      const histories = Object.keys(state!.pids).filter((name) => name.startsWith('history-'));
      const alive = histories.filter((name) => {
        try {
          return process.kill(state!.pids[name]!, 0);
        } catch {
          return false;
        }
      });
      expect(info.historyShardCount === state!.historyShards && alive.length === state!.historyProcesses, `history shards: ${info.historyShardCount}; history processes: ${alive.length} (${alive.join(', ')})`);
    } finally {
      await connection.close();
    }

    // The Web UI's server reaches the frontend with its own client certificate.
    const uiUrl = state!.uiUrl ?? `http://127.0.0.1:${ui}`;
    const listed = await pollFor(
      async () => {
        const res = await fetch(`${uiUrl}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(`CustomerId="${customer}"`)}`);
        const body = (await res.json()) as { executions?: unknown[] };
        return res.ok && body.executions?.length === 2 ? body.executions.length : undefined;
      },
      30_000,
      'the orders through the Web UI',
    );
    expect(listed === 2, `the Web UI (${uiUrl}) lists both through the frontend over mTLS`);

    // mTLS: without a client certificate the frontend refuses the connection.
    const refused = await Connection.connect({ address: state!.env.TEMPORAL_ADDRESS!, tls: { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME, serverRootCACertificate: readFileSync(config.TEMPORAL_TLS_CA_PATH!) }, connectTimeout: 3_000 })
      .then(async (c) => {
        try {
          await c.workflowService.getSystemInfo({});
          return false;
        } catch {
          return true;
        } finally {
          await c.close();
        }
      })
      .catch(() => true);
    expect(refused, 'a client without a certificate is refused');
  } finally {
    await stopProcess(system, 60_000);
  }
  const after = runningCluster(CLUSTER_DIR);
  const alive = (pid: number) => {
    try {
      return process.kill(pid, 0);
    } catch {
      return false;
    }
  };
  const leftovers = state && !after ? Object.entries(state.pids).filter(([, pid]) => alive(pid)) : [];
  expect(leftovers.length === 0, `everything stopped (${state ? Object.keys(state.pids).length : 0} cluster processes, simulators, worker, API)`, leftovers);
  log(`check passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

const run = process.argv.includes('--check') ? check : serve;
run().catch((err: unknown) => {
  log(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
