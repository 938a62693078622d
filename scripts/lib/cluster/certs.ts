/**
 * The cluster's certificates, made with openssl: a CA, the frontend's server certificate, and one
 * client certificate per caller (our API and workers, Temporal's internal worker, the Web UI).
 * Made once per cluster directory; remade only when missing or within a week of expiry.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The name clients verify the frontend's certificate against (TEMPORAL_TLS_SERVER_NAME). */
export const FRONTEND_SERVER_NAME = 'frontend.saga-cluster.local';
/** Client certificates by file name; their CN is the caller's identity in the frontend's logs. */
export const CLIENTS = ['saga-app', 'temporal-system', 'temporal-ui'] as const;

const DAYS = '365';
const WEEK_S = String(7 * 24 * 3600);

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function valid(file: string, cwd: string): boolean {
  if (!existsSync(join(cwd, file))) return false;
  try {
    openssl(['x509', '-in', file, '-noout', '-checkend', WEEK_S], cwd);
    return true;
  } catch {
    return false;
  }
}

/** A P-256 key (PKCS#8, which Go, Node and the Rust core all read) and a certificate signed by the CA. */
function issue(dir: string, name: string, subject: string, extensions: string[]): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions.join('\n') + '\n');
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', DAYS, '-sha256', '-extfile', ext, '-out', `${name}.pem`], dir);
  rmSync(join(dir, `${name}.csr`));
  rmSync(ext);
}

/** Ensures every certificate exists and is valid for at least a week; returns what it (re)made. */
export function ensureCerts(dir: string): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const made: string[] = [];
  if (!valid('ca.pem', dir)) {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key'], dir);
    openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', DAYS, '-subj', '/O=saga-coordinator/CN=saga-coordinator local cluster CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem'], dir);
    made.push('ca');
    // A new CA invalidates everything it signed before.
    for (const name of ['frontend', ...CLIENTS]) rmSync(join(dir, `${name}.pem`), { force: true });
  }
  if (!valid('frontend.pem', dir)) {
    issue(dir, 'frontend', '/O=saga-coordinator/CN=temporal-frontend', [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=DNS:${FRONTEND_SERVER_NAME},DNS:localhost,IP:127.0.0.1`,
    ]);
    made.push('frontend');
  }
  for (const name of CLIENTS) {
    if (valid(`${name}.pem`, dir)) continue;
    issue(dir, name, `/O=saga-coordinator/CN=${name}`, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth']);
    made.push(name);
  }
  return made;
}
