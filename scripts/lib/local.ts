/** Paths and secrets of the local (embedded) installation: binaries in .tools, state in .data. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
/** Local state (dev server database, JWT secret, payload key); SAGA_DATA_DIR moves it, e.g. for tests of the supervisor. */
export const DATA_DIR = process.env.SAGA_DATA_DIR ? resolve(process.env.SAGA_DATA_DIR) : join(ROOT, '.data');
export const TEMPORAL_CLI = join(ROOT, '.tools', 'bin', 'temporal');
export const TEMPORAL_TEST_SERVER = join(ROOT, '.tools', 'bin', 'temporal-test-server');

/**
 * The local API's JWT signing secret: JWT_SECRET when set, otherwise generated once per
 * installation into .data (git-ignored, mode 0600) so no secret ever sits in the repository.
 */
export function localJwtSecret(env: NodeJS.ProcessEnv = process.env): string {
  return env.JWT_SECRET || generatedOnce('jwt-secret', () => randomBytes(32).toString('base64url'));
}

/** The local payload encryption key (PAYLOAD_KEYS format, `id:base64`): PAYLOAD_KEYS when set, otherwise generated once like the JWT secret. */
export function localPayloadKeys(env: NodeJS.ProcessEnv = process.env): string {
  return env.PAYLOAD_KEYS || generatedOnce('payload-keys', () => `local-${randomBytes(4).toString('hex')}:${randomBytes(32).toString('base64')}`);
}

/** The signing secret shared by the local payments simulator and the payments webhook receiver. */
export function localPaymentsWebhookSecret(env: NodeJS.ProcessEnv = process.env): string {
  return env.PAYMENTS_WEBHOOK_SECRETS?.split(',')[0] || generatedOnce('payments-webhook-secret', () => `whsec_${randomBytes(24).toString('base64url')}`);
}

/** A secret kept in .data/<name>, created on first use; never overwritten (that would lock out what it protects). */
function generatedOnce(name: string, generate: () => string): string {
  const file = join(DATA_DIR, name);
  if (!existsSync(file)) {
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(file, generate(), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}
