/**
 * Concurrent customers of the chaos run, as a micro-frontend behaves: place an order with an
 * Idempotency-Key, retry the same key after a 5xx, a 429, a lost connection or a dropped answer
 * (honouring Retry-After), follow 202s to the status resource, and sometimes ask for a refund.
 * Every answer is noted in the journal the checker reads; the customers decide nothing from it.
 */
import { signAccessToken } from '../../../src/api/middleware/auth';
import { orderWorkflowId } from '../../../src/contracts/order';
import { refundWorkflowId } from '../../../src/contracts/refund';
import type { Answer, ClientRequest, ForgedWebhook, OtherCall } from './checker';
import type { Random } from './random';

export interface Journal {
  requests: ClientRequest[];
  otherCalls: OtherCall[];
  forged: ForgedWebhook[];
  /** Orders paid asynchronously (webhook chaos aims at them): workflow IDs. */
  asyncOrders: string[];
  /** Client-side faults waiting for the next request that can take them (set by the fault schedule). */
  pending: { dropAnswer: number; duplicate: number; keyReuse: number };
  /** Client-side faults actually done, by kind. */
  done: { dropAnswer: number; duplicate: number; keyReuse: number };
  /** Each customer's next order key (webhook chaos sends events "before the saga" for them). */
  nextOrderKey: Map<string, string>;
  placed: number;
  /** Transactions support acted on (decided, replayed, reset, cancelled). */
  supportTouched: Set<string>;
  /**
   * Transactions whose outcome support changed after the customer may have been told it (a replay of a
   * compensated order, a CLI reset that took effect): how many answers the customer's request had had then.
   */
  outcomeChangedAt: Map<string, number>;
}

export function newJournal(): Journal {
  return { requests: [], otherCalls: [], forged: [], asyncOrders: [], pending: { dropAnswer: 0, duplicate: 0, keyReuse: 0 }, done: { dropAnswer: 0, duplicate: 0, keyReuse: 0 }, nextOrderKey: new Map(), placed: 0, supportTouched: new Set(), outcomeChangedAt: new Map() };
}

const SETTLED = ['completed', 'compensated', 'failed', 'needs_attention'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CustomerOptions {
  apiUrl: string;
  auth: { secret: string; issuer: string; audience: string };
  journal: Journal;
  random: Random;
  /** Whether to place another order (the run keeps its customers busy until every fault is done). */
  keepGoing: () => boolean;
  /** Give up retrying a request after this time. */
  giveUpAt: number;
}

type Try = Answer & { body?: Record<string, unknown> };

export async function runCustomer(customerId: string, options: CustomerOptions): Promise<void> {
  const { apiUrl, journal, random } = options;
  const token = await signAccessToken({ ...options.auth, subject: customerId, ttl: '24h' });

  /** One HTTP try; a dropped answer (the fault) aborts it after the request went out. */
  async function once(method: string, path: string, init: { key?: string; body?: unknown; prefer?: string } = {}, drop = false): Promise<Try> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), drop ? random.int(5, 400) : 20_000);
    try {
      const res = await fetch(`${apiUrl}${path}`, {
        method,
        signal: controller.signal,
        headers: {
          authorization: `Bearer ${token}`,
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(init.key ? { 'idempotency-key': init.key } : {}),
          ...(init.prefer ? { prefer: init.prefer } : {}),
        },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      });
      const text = await res.text();
      if (drop) return { status: 'dropped' };
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      const problem = typeof body?.type === 'string' ? body.type.split('/').pop() : undefined;
      return { status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined, problem, body };
    } catch {
      return { status: drop && controller.signal.aborted ? 'dropped' : 'network-error' };
    } finally {
      clearTimeout(timer);
    }
  }

  const takeDrop = () => {
    if (journal.pending.dropAnswer <= 0) return false;
    journal.pending.dropAnswer -= 1;
    journal.done.dropAnswer += 1;
    return true;
  };
  const waitToRetry = (a: Answer, n: number) => sleep(a.retryAfter && /^\d+$/.test(a.retryAfter) ? Number(a.retryAfter) * 1000 : Math.min(5_000, 200 * 2 ** n));
  const note = (answers: Answer[], a: Try) => answers.push({ status: a.status, retryAfter: a.retryAfter, problem: a.problem });

  /** Reads the status resource until the transaction settles: `settled`, `unknown` (never received: send again) or `gave-up`. */
  async function follow(path: string, call: OtherCall): Promise<{ result: 'settled' | 'unknown' | 'gave-up'; status?: string }> {
    for (let n = 0; Date.now() < options.giveUpAt; n++) {
      const a = await once('GET', path);
      note(call.answers, a);
      if (a.status === 200 && SETTLED.includes(String(a.body?.status))) return { result: 'settled', status: String(a.body?.status) };
      if (a.status === 404) return { result: 'unknown' };
      await waitToRetry(a.status === 200 ? { status: 200, retryAfter: undefined } : a, Math.min(n, 4));
    }
    return { result: 'gave-up' };
  }

  /** Sends a command until it has an answer that is final, following 202s and 409s to the status resource. */
  async function command(request: ClientRequest, path: string, statusPath: string, key: string, body: unknown): Promise<string | undefined> {
    journal.requests.push(request);
    const lookups: OtherCall = { what: `${request.kind} status lookup`, workflowId: request.workflowId, answers: [] };
    journal.otherCalls.push(lookups);
    for (let n = 0; Date.now() < options.giveUpAt; n++) {
      const prefer = random.pick(['respond-async', 'wait=3', undefined]);
      const sending = once('POST', path, { key, body, prefer }, takeDrop());
      if (journal.pending.duplicate > 0 && request.body === 'original') {
        // Caller chaos: the same request again while the first is still in flight.
        journal.pending.duplicate -= 1;
        journal.done.duplicate += 1;
        void sleep(random.int(0, 200)).then(async () => note(request.answers, await once('POST', path, { key, body })));
      }
      const a = await sending;
      note(request.answers, a);
      if (a.status === 201) return 'completed';
      if (a.status === 422 && a.problem === 'transaction-failed') return String((a.body?.sagaStatus as string | undefined) ?? 'failed');
      if (a.status === 202 || (a.status === 409 && a.problem === 'request-in-progress')) {
        const followed = await follow(statusPath, lookups);
        if (followed.result === 'settled') return followed.status;
        if (followed.result === 'gave-up') return undefined;
        continue; // never received after all: send it again
      }
      if (typeof a.status === 'number' && a.status < 500 && a.status !== 429) return undefined; // refused for good (4xx)
      await waitToRetry(a, Math.min(n, 4));
    }
    return undefined;
  }

  for (let n = 1; options.keepGoing(); n++) {
    const key = `o-${n}`;
    journal.nextOrderKey.set(customerId, `o-${n + 1}`);
    const workflowId = orderWorkflowId(customerId, key);
    const kind = random.weighted({ visa: 55, async: 15, asyncEarly: 5, asyncSilent: 5, declined: 8, retired: 2, asyncDeclined: 5 });
    const token = { visa: 'tok_visa', async: 'tok_async', asyncEarly: 'tok_asyncEarly', asyncSilent: 'tok_asyncSilent', declined: 'tok_chargeDeclined', retired: 'tok_visa', asyncDeclined: 'tok_asyncDeclined' }[kind];
    const sku = kind === 'retired' ? 'course-v1:RetiredX+2019' : `course-v1:ChaosX+${random.int(1, 50)}`;
    const body = { items: [{ sku, quantity: 1, unitPrice: `${random.int(5, 200)}.00` }], currency: 'USD', paymentMethod: { token } };
    if (token.startsWith('tok_async')) journal.asyncOrders.push(workflowId);
    journal.placed += 1;
    const request: ClientRequest = { kind: 'order', workflowId, body: 'original', answers: [] };
    const placing = command(request, '/v1/orders', `/v1/orders/${key}`, key, body);
    if (journal.pending.keyReuse > 0) {
      // Caller chaos: the same key with another body, while or after the first is processed.
      journal.pending.keyReuse -= 1;
      journal.done.keyReuse += 1;
      // Once the first body is recorded (a 2xx, 409 or 422 came back): while it runs, or after it settled.
      const recorded = () => request.answers.some((a) => typeof a.status === 'number' && a.status < 500 && a.status !== 429);
      while (!recorded() && Date.now() < options.giveUpAt) await sleep(100);
      await sleep(random.int(0, 1_000));
      const altered: ClientRequest = { kind: 'order', workflowId, body: 'altered', answers: [] };
      journal.requests.push(altered);
      for (let i = 0; Date.now() < options.giveUpAt && i < 20; i++) {
        const a = await once('POST', '/v1/orders', { key, body: { ...body, items: [{ ...body.items[0]!, quantity: 2 }] }, prefer: 'respond-async' });
        note(altered.answers, a);
        if (typeof a.status === 'number' && a.status < 500 && a.status !== 429) break;
        await waitToRetry(a, Math.min(i, 4));
      }
    }
    const outcome = await placing;
    if (outcome === 'completed' && random.chance(0.3)) {
      const refund: ClientRequest = { kind: 'refund', workflowId: refundWorkflowId(customerId, key), body: 'original', answers: [] };
      await command(refund, `/v1/orders/${key}/refunds`, `/v1/orders/${key}/refund`, `r-${n}`, { reason: 'chaos' });
    }
  }
}
