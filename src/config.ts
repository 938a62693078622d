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
const list = z
  .string()
  .optional()
  .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []));

/** Per-downstream settings: where it is, its credentials (newest first), timeout, and its worker's limits. */
function downstream<P extends string>(prefix: P, port: number) {
  return {
    [`${prefix}_URL`]: z.url().default(`http://127.0.0.1:${port}`),
    [`${prefix}_API_KEYS`]: list,
    [`${prefix}_TIMEOUT_MS`]: z.coerce.number().int().min(1).optional(),
    [`${prefix}_CONCURRENCY`]: z.coerce.number().int().min(1).default(20),
    [`${prefix}_RATE_PER_SECOND`]: z.coerce.number().positive().optional(),
  } as {
    [K in `${P}_URL`]: z.ZodDefault<z.ZodURL>;
  } & { [K in `${P}_API_KEYS`]: typeof list } & { [K in `${P}_TIMEOUT_MS`]: z.ZodOptional<z.ZodCoercedNumber> } & {
    [K in `${P}_CONCURRENCY`]: z.ZodDefault<z.ZodCoercedNumber>;
  } & { [K in `${P}_RATE_PER_SECOND`]: z.ZodOptional<z.ZodCoercedNumber> };
}

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

  ...downstream('LEGACY', 4101),
  ...downstream('PAYMENTS', 4102),
  ...downstream('FULFILMENT', 4103),
  DOWNSTREAM_CONNECT_TIMEOUT_MS: ms(2_000),
  DOWNSTREAM_TIMEOUT_MS: ms(5_000),
  DOWNSTREAM_CONNECTIONS: z.coerce.number().int().min(1).default(16),
  BREAKER_THRESHOLD: z.coerce.number().int().min(1).default(5),
  BREAKER_HALF_OPEN_MS: ms(10_000),
  /** The order-history read proxy: its own short timeout, and how long a cached page is fresh. */
  HISTORY_TIMEOUT_MS: ms(1_500),
  HISTORY_CACHE_TTL_MS: ms(30_000),
  /** How often the API looks at Temporal's visibility for sagas that changed a customer's orders. */
  HISTORY_PURGE_POLL_MS: ms(2_000),

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
