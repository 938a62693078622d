/**
 * The Temporal server side of the local cluster: the schema (temporal-sql-tool with the schemas
 * embedded in the pinned server), one config file per process rendered from config/cluster/, and
 * the processes themselves (one service each).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../local';
import { PG_USER } from './postgres';

export const TEMPORAL_SERVER = join(ROOT, '.tools', 'bin', 'temporal-server');
export const TEMPORAL_SQL_TOOL = join(ROOT, '.tools', 'bin', 'temporal-sql-tool');
export const TEMPORAL_UI_SERVER = join(ROOT, '.tools', 'bin', 'temporal-ui-server');
export const TEMPLATES = join(ROOT, 'config', 'cluster');

/** Fills every `{{NAME}}` of a template; a name without a value is an error, not an empty string. */
export function render(template: string, values: Record<string, string | number>): string {
  return readFileSync(join(TEMPLATES, template), 'utf8').replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`config/cluster/${template}: no value for {{${name}}}`);
    return String(values[name]);
  });
}

/**
 * Creates the two databases and brings their schemas to the pinned server's version. Safe to run
 * on every start: creating what exists is skipped, and an up-to-date schema is left alone.
 */
export async function setupSchemas(pgPort: number, password: string): Promise<void> {
  const run = promisify(execFile);
  const env = { ...process.env, SQL_PLUGIN: 'postgres12', SQL_HOST: '127.0.0.1', SQL_PORT: String(pgPort), SQL_USER: PG_USER, SQL_PASSWORD: password };
  const tool = async (database: string, args: string[], tolerate?: RegExp) => {
    try {
      await run(TEMPORAL_SQL_TOOL, ['--db', database, ...args], { env });
    } catch (err) {
      const output = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
      if (!tolerate?.test(output)) throw new Error(`temporal-sql-tool --db ${database} ${args.join(' ')} failed:\n${output.slice(-2000)}`);
    }
  };
  for (const [database, schema] of [['temporal', 'postgresql/v12/temporal'], ['temporal_visibility', 'postgresql/v12/visibility']] as const) {
    await tool(database, ['create-database', '--defaultdb', 'postgres'], /already exists/);
    await tool(database, ['setup-schema', '-v', '0.0']);
    await tool(database, ['update-schema', '--schema-name', schema]);
  }
}

export type ServiceName = 'frontend' | 'matching' | 'history' | 'worker';

/** Starts one Temporal service from its rendered config, its output to the file descriptor `log`. */
export function spawnService(service: ServiceName, configFile: string, log: number): ChildProcess {
  return spawn(TEMPORAL_SERVER, ['--config-file', configFile, '--allow-no-auth', 'start', '--service', service], { stdio: ['ignore', log, log] });
}

/** Starts the Web UI server with `<root>/config/cluster.yaml`. */
export function spawnUi(root: string, log: number): ChildProcess {
  return spawn(TEMPORAL_UI_SERVER, ['--root', root, '--config', 'config', '--env', 'cluster', 'start'], { stdio: ['ignore', log, log] });
}

export function writeConfig(file: string, values: Record<string, string | number>): void {
  writeFileSync(file, render('temporal.yaml', values), { mode: 0o600 });
}
