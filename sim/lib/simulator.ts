/**
 * The shared machinery of every downstream simulator (test infrastructure, not product code): an
 * Idempotency-Key ledger (same key → the stored first answer and no second effect), a ledger of
 * effects actually performed, and fault injection (latency, 5xx, hang past the caller's timeout,
 * perform-then-drop-the-response), all behind the `/_sim/*` test contract.
 */
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { createLogger, type Logger } from '../../src/logger';

export interface Effect {
  op: string;
  idempotencyKey: string;
  ref: string;
  at: string;
  /** The caller's X-Request-Id and W3C traceparent on the call that had the effect, when it sent them. */
  requestId?: string;
  traceparent?: string;
}

const FaultRule = z.strictObject({
  op: z.string().optional(),
  idempotencyKey: z.string().optional(),
  /** Matches every key that starts with this, e.g. one customer's `order:<customer>:`. */
  idempotencyKeyPrefix: z.string().optional(),
  /** Matches calls whose URL (path and query) contains this, e.g. a reference in a lookup. */
  urlContains: z.string().optional(),
  latencyMs: z.number().int().min(0).max(120_000).optional(),
  errorRate: z.number().min(0).max(1).optional(),
  timeoutRate: z.number().min(0).max(1).optional(),
  dropResponseRate: z.number().min(0).max(1).optional(),
  /**
   * A business refusal (4xx) the simulator records under the call's Idempotency-Key, as a real
   * downstream records its answers: every later call with that key gets the same refusal. No effect.
   */
  reject: z.strictObject({ status: z.number().int().min(400).max(499), code: z.string().min(1), message: z.string().default('refused by fault injection') }).optional(),
  /** Status of an `errorRate` answer (default 503), and its Retry-After in seconds. */
  status: z.number().int().min(400).max(599).optional(),
  retryAfterSeconds: z.number().int().min(0).optional(),
  times: z.number().int().min(1).optional(),
});
type FaultRule = z.infer<typeof FaultRule> & { id: number };

/** A business answer from a handler (sync or async): the status, the body and, when something changed, the effect. */
export interface Answer {
  status: number;
  body: unknown;
  effect?: { ref: string };
}

export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`simulated ${status}`);
  }
}

/** How long a "timeout" fault holds the response: past any sane caller timeout. */
const HANG_MS = 60_000;

export interface SimulatorOptions {
  /** Bearer keys accepted on the business routes (several at once, as during a rotation); none → no auth. */
  apiKeys?: string[];
  /** One JSON line per business call (with the caller's requestId); default: LOG_LEVEL, or info. */
  logger?: Logger;
}

export function createSimulator(name: string, options: SimulatorOptions = {}) {
  const app = express();
  app.disable('x-powered-by');
  const logger = options.logger ?? createLogger(process.env.LOG_LEVEL ?? 'info', `sim:${name}`);
  app.use((req, res, next) => {
    if (req.path.startsWith('/_sim/')) return next();
    const started = performance.now();
    res.once('close', () => {
      const requestId = req.get('x-request-id');
      logger.info({ ...(requestId ? { requestId } : {}), method: req.method, path: req.path, status: res.statusCode, durationMs: Math.round(performance.now() - started) }, 'call');
    });
    next();
  });
  app.use(express.json());
  const configuredKeys = options.apiKeys ?? [];
  const apiKeys = [...configuredKeys];
  app.use((req, res, next) => {
    if (apiKeys.length === 0 || req.path.startsWith('/_sim/')) return next();
    const key = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    if (key && apiKeys.includes(key)) return next();
    res.status(401).json({ error: 'UNAUTHENTICATED', code: 'invalid_api_key', message: 'Invalid API key.', detail: 'Invalid API key.' });
  });

  const ledger: Effect[] = [];
  let faults: FaultRule[] = [];
  let nextFaultId = 1;
  const answers = new Map<string, { fingerprint: string; answer: Answer }>();
  const inFlight = new Map<string, Promise<Answer>>();
  const hanging = new Set<Response>();
  /** Simulator-wide behaviour switches (see `POST /_sim/mode`). */
  const mode = { dedupe: true };

  app.get('/_sim/health', (_req, res) => {
    res.json({ name, ok: true });
  });
  app.get('/_sim/ledger', (_req, res) => {
    res.json({ effects: ledger });
  });
  // The rules still in force (a rule with `times` leaves once used up: a test sees its call arrive).
  app.get('/_sim/faults', (_req, res) => {
    res.json({ faults });
  });
  app.post('/_sim/faults', (req, res) => {
    const rule = FaultRule.safeParse(req.body);
    if (!rule.success) return void res.status(400).json({ error: 'INVALID_FAULT', issues: rule.error.issues });
    const added = { ...rule.data, id: nextFaultId++ };
    faults.push(added);
    res.status(201).json({ id: added.id, faults });
  });
  app.delete('/_sim/faults', (_req, res) => {
    faults = [];
    res.status(204).end();
  });
  app.delete('/_sim/faults/:id', (req, res) => {
    faults = faults.filter((f) => f.id !== Number(req.params.id));
    res.status(204).end();
  });
  // The downstream forgets every Idempotency-Key it remembered (as a processor does after a day, Stripe's
  // 24 h): a call with an old key is then a new request. Its objects and ledger stay.
  app.post('/_sim/forget-keys', (_req, res) => {
    answers.clear();
    res.json({ forgotten: true });
  });
  app.post('/_sim/mode', (req, res) => {
    const body = z.strictObject({ dedupe: z.boolean().optional() }).safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: 'INVALID_MODE' });
    Object.assign(mode, body.data);
    res.json(mode);
  });
  // The provider's side of a key rotation: start accepting a key (as a provider does once you register it).
  app.post('/_sim/api-keys', (req, res) => {
    const body = z.strictObject({ accept: z.array(z.string().min(1)).min(1) }).safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: 'INVALID_KEYS' });
    for (const key of body.data.accept) if (!apiKeys.includes(key)) apiKeys.push(key);
    res.json({ accepted: apiKeys.length });
  });
  app.post('/_sim/reset', (_req, res) => {
    apiKeys.splice(0, apiKeys.length, ...configuredKeys);
    mode.dedupe = true;
    faults = [];
    ledger.length = 0;
    answers.clear();
    res.status(204).end();
  });

  /** Finds the first rule for this call and uses up one of its `times`. */
  function takeFault(op: string, key: string | undefined, url: string): FaultRule | undefined {
    const rule = faults.find(
      (f) =>
        (!f.op || f.op === op) &&
        (!f.idempotencyKey || f.idempotencyKey === key) &&
        (!f.idempotencyKeyPrefix || (key ?? '').startsWith(f.idempotencyKeyPrefix)) &&
        (!f.urlContains || url.includes(f.urlContains)),
    );
    if (rule?.times !== undefined) {
      rule.times -= 1;
      if (rule.times <= 0) faults = faults.filter((f) => f !== rule);
    }
    return rule;
  }

  const hit = (rate?: number) => rate !== undefined && rate > 0 && Math.random() < rate;

  function hang(res: Response): void {
    hanging.add(res);
    const timer = setTimeout(() => {
      hanging.delete(res);
      if (!res.headersSent) res.status(504).json({ error: 'SIMULATED_TIMEOUT' });
    }, HANG_MS);
    res.on('close', () => {
      clearTimeout(timer);
      hanging.delete(res);
    });
  }

  /** Applies the fault rule that comes before any processing: latency, then a 5xx with no effect. */
  async function before(op: string, key: string | undefined, res: Response): Promise<{ rule?: FaultRule; stop: boolean }> {
    const rule = takeFault(op, key, res.req.originalUrl);
    if (rule?.latencyMs) await new Promise((r) => setTimeout(r, rule.latencyMs));
    if (hit(rule?.errorRate)) {
      if (rule?.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(rule.retryAfterSeconds));
      res.status(rule?.status ?? 503).json({ error: 'SIMULATED_OUTAGE' });
      return { rule, stop: true };
    }
    return { rule, stop: false };
  }

  /** Applies the faults that come after processing: the effect happened, the caller never hears. */
  function deliver(rule: FaultRule | undefined, req: Request, res: Response, answer: Answer, replayed: boolean): void {
    if (hit(rule?.timeoutRate)) return hang(res);
    if (hit(rule?.dropResponseRate)) {
      req.socket.destroy();
      return;
    }
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(answer.status).json(answer.body);
  }

  /** An effectful endpoint, deduplicated by Idempotency-Key (scoped per operation) unless `options.dedupe()` says otherwise. */
  function command(path: string, op: string, handler: (req: Request) => Answer | Promise<Answer>, options: { dedupe?: () => boolean } = {}): void {
    app.post(path, async (req, res) => {
      const key = req.get('idempotency-key');
      if (!key) return void res.status(400).json({ error: 'IDEMPOTENCY_KEY_REQUIRED', detail: 'Idempotency-Key header is required' });
      const { rule, stop } = await before(op, key, res);
      if (stop) return;
      const scoped = `${op}\u0000${key}`;
      const fingerprint = `${req.path}\u0000${JSON.stringify(req.body ?? null)}`;
      const running = options.dedupe?.() === false ? undefined : inFlight.get(scoped);
      if (running) await running.catch(() => undefined);
      const stored = options.dedupe?.() === false ? undefined : answers.get(scoped);
      if (stored && stored.fingerprint !== fingerprint) {
        return void res.status(422).json({ error: 'IDEMPOTENCY_KEY_REUSED', detail: 'key reused with a different request' });
      }
      let answer = stored?.answer;
      if (!answer && rule?.reject) {
        const { status, code, message } = rule.reject;
        answer = { status, body: { error: code, detail: message, code, message } };
        answers.set(scoped, { fingerprint, answer });
      }
      if (!answer) {
        const pending = run(handler, req);
        // Claim the key before any await, so a concurrent retry waits for this answer instead of re-running.
        const claim = Promise.resolve(pending);
        inFlight.set(scoped, claim);
        try {
          answer = await claim;
        } finally {
          inFlight.delete(scoped);
        }
        answers.set(scoped, { fingerprint, answer });
        if (answer.effect) {
          const requestId = req.get('x-request-id');
          const traceparent = req.get('traceparent');
          ledger.push({ op, idempotencyKey: key, ref: answer.effect.ref, at: new Date().toISOString(), ...(requestId ? { requestId } : {}), ...(traceparent ? { traceparent } : {}) });
        }
      }
      deliver(rule, req, res, answer, stored !== undefined);
    });
  }

  /** A read endpoint: faults apply, nothing is recorded. */
  function query(path: string, op: string, handler: (req: Request) => Answer): void {
    app.get(path, async (req, res) => {
      const { rule, stop } = await before(op, undefined, res);
      if (stop) return;
      deliver(rule, req, res, await run(handler, req), false);
    });
  }

  function listen(port: number, host = '127.0.0.1') {
    const server = app.listen(port, host);
    server.on('close', () => hanging.forEach((r) => r.destroy()));
    return server;
  }

  return { app, ledger, mode, command, query, listen };
}

async function run(handler: (req: Request) => Answer | Promise<Answer>, req: Request): Promise<Answer> {
  try {
    return await handler(req);
  } catch (err) {
    if (err instanceof SimError) return { status: err.status, body: err.body };
    throw err;
  }
}

export type Simulator = ReturnType<typeof createSimulator>;

let counter = 0;
/** Short, unique, readable IDs: ch_000001_x7k2. */
export function newId(prefix: string): string {
  counter += 1;
  return `${prefix}${String(counter).padStart(6, '0')}_${Math.random().toString(36).slice(2, 6)}`;
}
