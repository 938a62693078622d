/**
 * All configuration, from environment variables, parsed once at each entry point and handed down.
 * The defaults run everything on one machine against the embedded dev server and simulators;
 * TEMPORAL_ADDRESS and friends point the same code at a Temporal cluster or Temporal Cloud.
 */
import { z } from 'zod';
import { TASK_QUEUE_ROLES } from './contracts/order';

const bool = z.enum(['true', 'false', '1', '0', '']).default('false').transform((v) => v === 'true' || v === '1');
const ms = (def: number) => z.coerce.number().int().min(1).default(def);
const optional = z.string().optional().transform((v) => (v ? v : undefined));

export const Config = z.object({
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TLS: bool,
  TEMPORAL_TLS_CERT_PATH: optional,
  TEMPORAL_TLS_KEY_PATH: optional,
  TEMPORAL_TLS_CA_PATH: optional,
  TEMPORAL_TLS_SERVER_NAME: optional,
  TEMPORAL_API_KEY: optional,
  TASK_QUEUE_PREFIX: z.string().default(''),
  WORKER_QUEUES: z
    .string()
    .default(TASK_QUEUE_ROLES.join(','))
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.enum(TASK_QUEUE_ROLES)).min(1)),

  LEGACY_URL: z.url().default('http://127.0.0.1:4101'),
  PAYMENTS_URL: z.url().default('http://127.0.0.1:4102'),
  FULFILMENT_URL: z.url().default('http://127.0.0.1:4103'),
  DOWNSTREAM_CONNECT_TIMEOUT_MS: ms(2_000),
  DOWNSTREAM_TIMEOUT_MS: ms(5_000),
  DOWNSTREAM_CONNECTIONS: z.coerce.number().int().min(1).default(16),

  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  JWT_SECRET: optional.pipe(z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional()),
  JWT_ISSUER: z.string().default('saga-coordinator'),
  JWT_AUDIENCE: z.string().default('saga-coordinator'),
  /** Upper bound on how long a synchronous POST waits for the saga before answering 202. */
  SYNC_WAIT_MAX_MS: ms(10_000),
  BODY_LIMIT: z.string().default('32kb'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Config = z.infer<typeof Config>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = Config.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
