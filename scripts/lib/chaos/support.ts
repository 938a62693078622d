/**
 * Support staff in a chaos run: what people do to repair transactions, at random moments and on
 * random transactions, through the same doors they use (README, Support runbook) — the admin API's
 * decisions and replay, the Temporal CLI's own reset (to the first, the last or any workflow task)
 * and the Web UI's Cancel — plus the downstream refusals that give them parked sagas to decide.
 * Skip is left out: it asserts an effect was done by hand, which only a person who did it can say.
 * When the run settles, support decides every saga still parked, as an operator clearing the queue
 * would (abort; retry where an abort is refused), so that its money and access are judged too.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { signAccessToken } from '../../../src/api/middleware/auth';
import { TEMPORAL_CLI } from '../local';
import type { Answer, OtherCall } from './checker';
import type { Cluster } from './cluster';
import type { Journal } from './customers';
import type { Random } from './random';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SupportDesk {
  /** An admin API call as support makes it; its answer is noted for the 5xx rule. */
  admin(method: 'GET' | 'POST', path: string, body?: unknown, key?: string): Promise<Answer & { body?: Record<string, unknown> }>;
  client: Client;
}

export async function supportDesk(cluster: Cluster, client: Client): Promise<SupportDesk> {
  const token = await signAccessToken({ secret: cluster.env.JWT_SECRET!, issuer: 'saga-coordinator', audience: 'saga-coordinator', subject: 'chaos-support', roles: ['support'], ttl: '24h' });
  return {
    client,
    async admin(method, path, body, key) {
      try {
        const res = await fetch(`${cluster.apiUrl}/v1/admin${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(key ? { 'idempotency-key': key } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(30_000),
        });
        const parsed = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
        const problem = typeof parsed?.type === 'string' ? parsed.type.split('/').pop() : undefined;
        return { status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined, problem, body: parsed };
      } catch {
        return { status: 'network-error' };
      }
    },
  };
}

/** What support acts on in a run: the transactions customers asked for (orders and refunds). */
function transactionIds(journal: Journal): string[] {
  return [...new Set(journal.requests.filter((r) => r.body === 'original').map((r) => r.workflowId))];
}

/**
 * Support tries again while the API or Temporal is down (other faults crash them): up to ~30 s, as a
 * person would. `final` errors (a transaction that does not exist) are not tried again.
 */
async function persisting<T>(fn: () => Promise<T>, final: (err: unknown) => boolean = () => false): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 15 || final(err)) throw err;
      await sleep(2_000);
    }
  }
}

/** An admin command, sent again (same body, same key) while the API or Temporal is down; every answer is kept for the checker. */
async function command(desk: SupportDesk, path: string, body: unknown, answers: Answer[], key?: string): Promise<void> {
  await persisting(async () => {
    const a = await desk.admin('POST', path, body, key);
    answers.push(a);
    if (a.status === 'network-error' || a.status === 'dropped' || a.status >= 500) throw new Error(`answered ${String(a.status)}`);
  }).catch(() => undefined);
}

function listIds(desk: SupportDesk, status: string): Promise<string[]> {
  return persisting(async () => {
    const a = await desk.admin('GET', `/transactions?status=${status}&limit=50`);
    if (a.status !== 200) throw new Error(`admin list answered ${String(a.status)}`);
    return ((a.body?.items as { transactionId: string }[] | undefined) ?? []).map((i) => i.transactionId);
  });
}

function noteCall(journal: Journal, what: string, workflowId: string, answers: Answer[]): void {
  journal.otherCalls.push({ what, workflowId, answers: answers.map(({ status, retryAfter, problem }) => ({ status, retryAfter, problem })) } satisfies OtherCall);
}

/** The CLI's own reset, as support types it; `to` is a reset type or a WorkflowTaskCompleted event ID. */
async function cliReset(cluster: Cluster, workflowId: string, to: 'FirstWorkflowTask' | 'LastWorkflowTask' | number): Promise<void> {
  const target = typeof to === 'number' ? ['--event-id', String(to)] : ['--type', to];
  await persisting(
    () => promisify(execFile)(TEMPORAL_CLI, ['workflow', 'reset', '--address', cluster.temporalAddress, '--workflow-id', workflowId, ...target, '--reason', 'chaos: support pressed reset'], { timeout: 30_000 }),
    notFound,
  );
}

const notFound = (err: unknown) => /not found|NotFound/i.test((err as { stderr?: string }).stderr ?? String(err));

/** Sub-kinds that found nothing to act on: the schedule tries again (see NOT_INJECTED in faults.ts). */
export const NO_SUPPORT_TARGET = 'no-support-target';

/** One support action (or the refusal that parks a saga for one); returns its sub-kind. */
export async function supportChaos(ctx: { cluster: Cluster; journal: Journal; random: Random; desk: SupportDesk }): Promise<string> {
  const { cluster, journal, random, desk } = ctx;
  const sub = random.weighted({ refusal: 3, decide: 4, replay: 2, 'cli-reset': 4, cancel: 2 });
  const touch = (id: string) => journal.supportTouched.add(id);
  // A replay or a reset that took effect may rightly change the outcome the customer was told before it.
  const changedOutcome = (id: string) => {
    const asked = journal.requests.find((r) => r.workflowId === id && r.body === 'original');
    journal.outcomeChangedAt.set(id, asked?.answers.length ?? 0);
  };

  if (sub === 'refusal') {
    // A downstream refuses one call for good: a step after the money moved, or a compensation, parks.
    const [sim, op] = random.pick([['fulfilment', 'grant'], ['legacy', 'complete'], ['legacy', 'cancel'], ['payments', 'refund'], ['fulfilment', 'revoke']] as const);
    const res = await fetch(`${cluster.simUrls[sim]}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op, reject: { status: 422, code: 'chaos_refusal', message: 'Refused by the chaos run.' }, times: 1 }) });
    if (res.status !== 201) throw new Error(`fault refused by ${sim}: ${res.status}`);
    return `refusal-${op}`;
  }

  if (sub === 'decide') {
    const parked = await listIds(desk, 'needs_attention');
    if (!parked.length) return NO_SUPPORT_TARGET;
    const id = random.pick(parked);
    touch(id);
    const decision = () => ({ action: random.chance(0.6) ? 'retry' : 'abort', reason: 'chaos: support decided' });
    // Sometimes two operators decide at once: one is applied, the other refused (DecisionInProgress or NotParked).
    const twice = random.chance(0.25);
    const answers: Answer[] = [];
    await Promise.all(Array.from({ length: twice ? 2 : 1 }, () => command(desk, `/transactions/${encodeURIComponent(id)}/decisions`, decision(), answers)));
    noteCall(journal, 'support decision', id, answers);
    return twice ? 'two-decisions-at-once' : 'decision';
  }

  if (sub === 'replay') {
    const compensated = (await listIds(desk, 'compensated')).filter((id) => id.startsWith('order:'));
    if (!compensated.length) return NO_SUPPORT_TARGET;
    const id = random.pick(compensated);
    touch(id);
    const key = `chaos-replay-${randomUUID()}`;
    const answers: Answer[] = [];
    await command(desk, `/transactions/${encodeURIComponent(id)}/reset`, { reason: 'chaos: support replays' }, answers, key);
    // The same key again (a double click) answers the replay it started.
    if (answers.some((a) => a.status === 202)) changedOutcome(id);
    if (random.chance(0.3)) await command(desk, `/transactions/${encodeURIComponent(id)}/reset`, { reason: 'chaos: support replays' }, answers, key);
    noteCall(journal, 'support replay', id, answers);
    return 'replay';
  }

  const ids = transactionIds(journal);
  if (!ids.length) return NO_SUPPORT_TARGET;

  if (sub === 'cancel') {
    // The Web UI's Cancel of an order that is still running.
    const running = await persisting(async () => {
      const ids: string[] = [];
      for await (const w of desk.client.workflow.list({ query: 'ExecutionStatus = "Running" AND WorkflowType = "orderSaga"', pageSize: 50 })) {
        ids.push(w.workflowId);
        if (ids.length >= 50) break;
      }
      return ids;
    });
    if (!running.length) return NO_SUPPORT_TARGET;
    const id = random.pick(running);
    touch(id);
    await persisting(() => desk.client.workflow.getHandle(id).cancel(), notFound);
    return 'cancel';
  }

  // The CLI's reset, on any transaction a customer asked for, whatever its state.
  const id = random.pick(ids.slice(-80));
  const how = random.weighted({ first: 4, last: 3, any: 3 });
  let to: 'FirstWorkflowTask' | 'LastWorkflowTask' | number = how === 'first' ? 'FirstWorkflowTask' : 'LastWorkflowTask';
  if (how === 'any') {
    const events = await persisting(() => desk.client.workflow.getHandle(id).fetchHistory(), notFound).then((h) => h.events ?? [], () => []);
    const tasks = events.filter((e) => e.workflowTaskCompletedEventAttributes).map((e) => Number(e.eventId));
    if (!tasks.length) return NO_SUPPORT_TARGET;
    to = random.pick(tasks);
  }
  try {
    await cliReset(cluster, id, to);
  } catch (err) {
    if (notFound(err)) return NO_SUPPORT_TARGET; // never received
    throw err;
  }
  touch(id);
  changedOutcome(id);
  return `cli-reset-${how}`;
}

/**
 * Support clears the queue once the run is quiet: every parked saga is aborted (compensated), or
 * retried where an abort is refused, until none is parked, ten rounds have passed (a saga that
 * parks again each time stays parked, and the checker shows it) or the deadline passes. Returns
 * how many decisions it took.
 */
export async function decideEveryParked(desk: SupportDesk, journal: Journal, deadline: number, waitQuiet: () => Promise<void>): Promise<number> {
  let decisions = 0;
  for (let round = 0; round < 10 && Date.now() < deadline; round++) {
    if (round > 0) await sleep(2_000);
    await waitQuiet();
    let parked: string[];
    try {
      parked = await listIds(desk, 'needs_attention');
    } catch {
      continue;
    }
    if (!parked.length) return decisions;
    for (const id of parked) {
      journal.supportTouched.add(id);
      const answers: Answer[] = [];
      await command(desk, `/transactions/${encodeURIComponent(id)}/decisions`, { action: 'abort', reason: 'chaos: support clears the queue' }, answers);
      if (answers.at(-1)?.status === 422) await command(desk, `/transactions/${encodeURIComponent(id)}/decisions`, { action: 'retry', reason: 'chaos: support clears the queue' }, answers);
      decisions += answers.length;
      noteCall(journal, 'support decision (settling)', id, answers);
    }
  }
  return decisions;
}
