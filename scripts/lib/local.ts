/** Paths and secrets of the local (embedded) installation: binaries in .tools, state in .data. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
/** Local state (dev server database, JWT secret); SAGA_DATA_DIR moves it, e.g. for tests of the supervisor. */
export const DATA_DIR = process.env.SAGA_DATA_DIR ? resolve(process.env.SAGA_DATA_DIR) : join(ROOT, '.data');
export const TEMPORAL_CLI = join(ROOT, '.tools', 'bin', 'temporal');
export const TEMPORAL_TEST_SERVER = join(ROOT, '.tools', 'bin', 'temporal-test-server');

/**
 * The local API's JWT signing secret: JWT_SECRET when set, otherwise generated once per
 * installation into .data (git-ignored, mode 0600) so no secret ever sits in the repository.
 */
export function localJwtSecret(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JWT_SECRET) return env.JWT_SECRET;
  const file = join(DATA_DIR, 'jwt-secret');
  if (!existsSync(file)) {
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}
