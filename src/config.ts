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
const commaList = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const list = z
  .string()
  .optional()
  .transform((v) => (v ? commaList(v) : []));

/** One AES-256 key of the payload codec; the ID travels in each payload's metadata, the key never does. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/** `id:<base64 of 32 bytes>,…`, newest first. Errors name the entry, never its key material. */
const payloadKeys = list.transform((entries, ctx): PayloadKey[] => {
  const keys: PayloadKey[] = [];
  entries.forEach((entry, i) => {
    const [, id, encoded] = /^([A-Za-z0-9._-]{1,64}):([A-Za-z0-9+/_-]+={0,2})$/.exec(entry) ?? [];
    const key = encoded ? Buffer.from(encoded, 'base64') : undefined;
    if (!id || key?.length !== 32) ctx.addIssue({ code: 'custom', message: `entry ${i + 1} must be <id>:<base64 of 32 random bytes>` });
    else if (keys.some((k) => k.id === id)) ctx.addIssue({ code: 'custom', message: `key ID "${id}" is listed twice` });
    else keys.push({ id, key });
  });
  return keys;
});

/** A JSON object of name → comma-separated list (each list newest first), e.g. `{"eu":"key-new,key-old"}`. */
function listsByName(names: RegExp, example: string) {
  return z
    .string()
    .default('{}')
    .transform((v, ctx) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be JSON, e.g. ${example}` });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string().regex(names), z.string().transform(commaList)));
}

/** Credentials per region or tier (the names a token's `region` claim may carry). */
const keysByRegion = listsByName(/^[a-z0-9-]{1,32}$/, '{"eu":"key-new,key-old"}');

/** Per-downstream settings: where it is, its credentials (newest first), timeout, and its worker's limits. */
function downstream<P extends string>(prefix: P, port: number) {
  return {
    [`${prefix}_URL`]: z.url().default(`http://127.0.0.1:${port}`),
    [`${prefix}_API_KEYS`]: list,
    [`${prefix}_API_KEYS_BY_REGION`]: keysByRegion,
    [`${prefix}_TIMEOUT_MS`]: z.coerce.number().int().min(1).optional(),
    [`${prefix}_CONCURRENCY`]: z.coerce.number().int().min(1).default(20),
    [`${prefix}_RATE_PER_SECOND`]: z.coerce.number().positive().optional(),
  } as {
    [K in `${P}_URL`]: z.ZodDefault<z.ZodURL>;
  } & { [K in `${P}_API_KEYS`]: typeof list } & { [K in `${P}_API_KEYS_BY_REGION`]: typeof keysByRegion } & { [K in `${P}_TIMEOUT_MS`]: z.ZodOptional<z.ZodCoercedNumber> } & {
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
  /** A prebuilt workflow bundle (bundleWorkflowCode's output): the worker starts without bundling the workflows again. */
  WORKFLOW_BUNDLE_PATH: optional,
  WORKER_QUEUES: z
    .string()
    .default(TASK_QUEUE_ROLES.join(','))
    .transform(commaList)
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
  /** An identity provider's JWKS: tokens are then verified with its keys (RS256/ES256), and JWT_SECRET is not used. */
  JWT_JWKS_URL: optional.pipe(z.url().optional()),
  JWT_ALGORITHMS: z
    .string()
    .default('RS256,ES256')
    .transform(commaList)
    .pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1)),
  JWT_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(30),
  /** How soon after fetching the JWKS an unknown `kid` may fetch it again. */
  JWT_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
  /** Browser origins of the micro-frontends allowed to call the customer routes (/v1/orders…). */
  MFE_CORS_ORIGINS: list.pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin: scheme://host[:port], no path'))),
  /** Rate limits, per window: commands (POST) and reads (GET) per customer, everything per client IP, webhooks per source. */
  RATE_LIMIT_WINDOW_MS: ms(60_000),
  RATE_LIMIT_COMMANDS_PER_CUSTOMER: z.coerce.number().int().min(1).default(60),
  RATE_LIMIT_READS_PER_CUSTOMER: z.coerce.number().int().min(1).default(600),
  RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).default(1_200),
  RATE_LIMIT_WEBHOOKS_PER_SOURCE: z.coerce.number().int().min(1).default(1_200),
  /** Behind a reverse proxy: how many hops to trust for the client IP (Express `trust proxy`); 0 = the socket's address. */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).default(0),
  /** Payload encryption keys, newest first: the first encrypts, every one decrypts (rotation). None: payloads are stored in clear text. */
  PAYLOAD_KEYS: payloadKeys,
  /** Browser origins (the Temporal Web UI) allowed to call the codec endpoint. */
  CODEC_CORS_ORIGINS: list
    .transform((origins) => (origins.length ? origins : ['http://localhost:8233', 'http://127.0.0.1:8233']))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin: scheme://host[:port], no path'))),
  /** Forward steps try a local activity in the saga's own workflow task first, then their downstream's queue (docs/benchmarks.md). */
  FAST_PATH: z.enum(['true', 'false', '1', '0', '']).default('true').transform((v) => v !== 'false' && v !== '0'),
  /** Upper bound on how long a synchronous POST waits for the saga before answering 202. */
  SYNC_WAIT_MAX_MS: ms(10_000),
  BODY_LIMIT: z.string().default('32kb'),
  /** Stripe-style signing secrets of the payment provider's webhooks, newest first (several during a rotation). */
  PAYMENTS_WEBHOOK_SECRETS: list,
  /** Standard Webhooks secrets per source, as JSON: {"fulfilment":"whsec_new,whsec_old"}. */
  STANDARD_WEBHOOK_SECRETS: listsByName(/^[a-z0-9-]{1,40}$/, '{"fulfilment":"whsec_new,whsec_old"}').refine((sources) => !Object.hasOwn(sources, 'payments'), {
    message: '"payments" is the payment processor\'s own route (PAYMENTS_WEBHOOK_SECRETS): give a partner another name',
  }),
  /** How old a webhook's signed timestamp may be. */
  WEBHOOK_TOLERANCE_S: z.coerce.number().int().min(1).default(300),
  /** How long an order waits for an asynchronous payment's webhook before cancelling the charge. */
  PAYMENT_CONFIRMATION_TIMEOUT_S: z.coerce.number().int().min(1).default(600),
  /** A worker's own `GET /metrics` listener (the API serves /metrics on PORT); 0 picks a free port. */
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
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
