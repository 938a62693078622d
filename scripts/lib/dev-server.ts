/**
 * The Temporal CLI dev server as `npm start`, the tests and the benchmark run it: our search
 * attributes registered, eager workflow start on, and the history task processor's poll limit
 * raised. (Its default of 20 polls a second makes every workflow or activity task wait ~45 ms for
 * dispatch on an otherwise idle server: a saga of 9 tasks takes ~450 ms instead of ~95 ms; see
 * docs/benchmarks.md.)
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { searchAttributeFlags } from '../../src/temporal/search-attributes';
import { TEMPORAL_CLI } from './local';
import { waitUntil } from './processes';

export const DEV_SERVER_TUNING = [
  '--dynamic-config-value', 'system.enableEagerWorkflowStart=true',
  '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000',
];

export interface DevServerOptions {
  port: number;
  /** Web UI port; no UI (headless) when absent. */
  uiPort?: number;
  /** Where the UI sends payloads to decode (our codec endpoint). */
  codecEndpoint?: string;
  /** SQLite file (survives restarts); in memory when absent. */
  dbFile?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  extraArgs?: readonly string[];
  stdio?: StdioOptions;
}

export function spawnDevServer(options: DevServerOptions): ChildProcess {
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    ...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.codecEndpoint ? ['--ui-codec-endpoint', options.codecEndpoint] : []),
    ...(options.dbFile ? ['--db-filename', options.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'] : []),
    '--log-level', options.logLevel ?? 'error',
    ...DEV_SERVER_TUNING,
    ...searchAttributeFlags(),
    ...(options.extraArgs ?? []),
  ];
  return spawn(TEMPORAL_CLI, args, { stdio: options.stdio ?? ['ignore', 'ignore', 'inherit'] });
}

/** Resolves once a Temporal frontend answers at `address`. */
export function waitForTemporal(address: string, timeoutMs = 60_000): Promise<void> {
  return waitUntil(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    },
    timeoutMs,
    `Temporal at ${address}`,
  );
}

/** Starts a dev server and waits until it answers. */
export async function startDevServer(options: DevServerOptions): Promise<{ child: ChildProcess; address: string }> {
  const child = spawnDevServer(options);
  const address = `127.0.0.1:${options.port}`;
  await waitForTemporal(address);
  return { child, address };
}
