/**
 * The cluster's PostgreSQL (Debian's postgresql-15): a database cluster owned by the project in
 * `<dir>/pg`, listening on 127.0.0.1 only, with one password-protected role `temporal`. PostgreSQL
 * refuses to run as root, so under root it runs as the `postgres` system user the package created.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pollFor } from '../processes';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const PG_USER = 'temporal';

interface Owner {
  uid: number;
  gid: number;
}

/** Who runs PostgreSQL: ourselves, or `postgres` when we are root. */
function owner(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function chown(path: string, who: Owner | undefined): void {
  if (who) chownSync(path, who.uid, who.gid);
}

/** Lets `postgres` traverse (not list or read) every directory down to `path`: .data is 0700 by default. */
function traversable(path: string, who: Owner | undefined): void {
  if (!who) return;
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o777;
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o011);
  }
}

/** The `temporal` role's password: generated once into `<dir>/pg-password` (0600), never logged. */
export function pgPassword(dir: string): string {
  const file = join(dir, 'pg-password');
  if (!existsSync(file)) writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600, flag: 'wx' });
  return readFileSync(file, 'utf8').trim();
}

/** Creates the database cluster once (initdb); returns false when it already existed. */
export function initPostgres(dir: string): boolean {
  const data = join(dir, 'pg');
  if (existsSync(join(data, 'PG_VERSION'))) return false;
  const who = owner();
  rmSync(data, { recursive: true, force: true }); // a half-made one from an interrupted initdb
  mkdirSync(data, { mode: 0o700 });
  chown(data, who);
  traversable(data, who);
  // initdb reads the password from a file the server's user can read; it lives only for this call.
  const tmp = mkdtempSync(join(dir, 'initdb-'));
  const pwfile = join(tmp, 'pw');
  writeFileSync(pwfile, pgPassword(dir), { mode: 0o600 });
  chown(tmp, who);
  chown(pwfile, who);
  try {
    execFileSync(join(PG_BIN, 'initdb'), ['-D', data, '-U', PG_USER, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=peer', '-E', 'UTF8', '--locale=C.UTF-8'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(who ?? {}),
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return true;
}

/** Starts the server on `port` (127.0.0.1 only), its output to the file descriptor `log`; resolves once it accepts connections. */
export async function startPostgres(dir: string, port: number, log: number): Promise<ChildProcess> {
  const data = join(dir, 'pg');
  const child = spawn(
    join(PG_BIN, 'postgres'),
    ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${data}`, '-c', 'max_connections=200', '-c', 'logging_collector=off'],
    { stdio: ['ignore', log, log], ...(owner() ?? {}) },
  );
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`postgres exited at start (exit ${code}): is another one using ${data}? See its log.`))),
  );
  exited.catch(() => {});
  const ready = async () => {
    try {
      execFileSync(join(PG_BIN, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      return true;
    } catch {
      return undefined;
    }
  };
  await Promise.race([pollFor(ready, 60_000, `PostgreSQL on 127.0.0.1:${port}`), exited]).catch((err: unknown) => {
    child.kill('SIGINT');
    throw err;
  });
  return child;
}

/**
 * Empties Temporal's membership table before a start. Every process of this cluster is ours and none
 * runs yet, but rows of the last start's processes stay until they expire, and a new process first
 * tries to join those (up to its 30 s maxJoinDuration) before it gives up on them.
 */
export function forgetMembers(port: number, password: string): void {
  execFileSync(join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', PG_USER, '-d', 'temporal', '-v', 'ON_ERROR_STOP=1', '-qc', 'DELETE FROM cluster_membership'], {
    env: { ...process.env, PGPASSWORD: password },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}
