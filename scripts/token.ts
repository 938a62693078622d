/**
 * Prints a JWT the local API accepts: `npm run --silent token -- <customerId> [--role support] [--region eu] [--ttl 8h]`.
 * Signed with the installation's secret (JWT_SECRET or .data/jwt-secret).
 */
import { signAccessToken } from '../src/api/middleware/auth';
import { loadConfig } from '../src/config';
import { CustomerId } from '../src/contracts/order';
import { localJwtSecret } from './lib/local';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const customer = CustomerId.safeParse(args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')));
  if (!customer.success) {
    console.error('usage: npm run --silent token -- <customerId> [--role support] [--region eu] [--ttl 8h]');
    process.exit(2);
  }
  const option = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const config = loadConfig({ ...process.env, JWT_SECRET: localJwtSecret() });
  const token = await signAccessToken({
    secret: config.JWT_SECRET!,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    subject: customer.data,
    roles: option('role') ? [option('role')!] : [],
    region: option('region'),
    ttl: option('ttl'),
  });
  process.stdout.write(`${token}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
