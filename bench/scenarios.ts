/**
 * What the benchmark measures. Each scenario runs one iteration and times only its own part with
 * `time(row, fn)`; what surrounds it (finishing a saga first, holding one mid-flight) is untimed.
 * Every iteration uses a new Idempotency-Key, so nothing is ever a replay.
 */
import { randomUUID } from 'node:crypto';
import { type Client, type WorkflowStartOptions } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { fingerprint } from '../src/api/http-semantics';
import {
  PlaceOrder,
  downstreamKey,
  orderStatusQuery,
  orderWorkflowId,
  searchAttributes,
  webhookEventSignal,
  type OrderSagaInput,
  type OrderStatus,
} from '../src/contracts/order';
import type { orderSaga } from '../src/workflows/order';
import { chainInput, chainSteps } from './chain';
import { runChain } from './chain-shape';
import type { bareSaga as bareSagaWorkflow } from './noop-workflows';
import Stripe from 'stripe';
import { BENCH_WEBHOOK_SECRET, type BenchEnvironment, type FaultRule } from './environment';

export const ROWS = {
  direct: 'direct: 4 downstream calls in sequence (no Temporal)',
  bare: 'bare saga: the same 4 calls as local activities, nothing else (SDK start + result)',
  edgeSync: 'edge sync: POST /v1/orders → 201',
  edgeSyncQueued: 'edge sync, FAST_PATH=false (every step queued) → 201',
  edgeSyncObserved: 'edge sync, metrics + tracing on → 201',
  sdk: 'SDK start + result',
  mechA: '(a) start + describe + result (edge, existing workflow)',
  mechC: '(c) eager start + result (NativeConnection)',
  mechC0: '(c0) start + result on NativeConnection, not eager',
  edgeAsync: 'edge POST, Prefer: respond-async → 202',
  getCompleted: 'edge GET /v1/orders/{key}, completed',
  resultCompleted: 'SDK handle.result(), completed',
  getRunning: 'edge GET /v1/orders/{key}, running',
  queryRunning: 'SDK handle.query(orderStatus), running',
  webhookSignal: 'edge POST /v1/webhooks/payments (verify + signal) → 200',
  signalRunning: 'SDK handle.signal(webhookEvent), running',
  edgeFloor: 'edge floor: GET /v1/unknown → 404 (HTTP, JWT, limits; no Temporal call)',
} as const;
export type RowId = keyof typeof ROWS;

export type Timer = <T>(row: RowId, fn: () => Promise<T>) => Promise<T>;

export interface Scenario {
  rows: RowId[];
  run(time: Timer, latencyMs: number): Promise<void>;
}

export const ORDER: PlaceOrder = PlaceOrder.parse({
  items: [{ sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '49.00' }],
  currency: 'USD',
  paymentMethod: { token: 'tok_visa' },
});
const ORDER_JSON = JSON.stringify(ORDER);

/** How long the "running" scenario holds grantAccess, so the saga is surely mid-flight while it is read. */
const HOLD_MS = 300;

export interface Bench {
  scenarios: Scenario[];
  /** Per simulator latency: eager starts requested, and how many the server actually answered with an eager workflow task. */
  eager: Map<number, { requested: number; started: number }>;
  /** One edge POST with a fresh key; resolves with the status and the body. */
  postOrder(prefer?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The four downstream calls of the saga, directly. */
  directOrder(): Promise<void>;
  /** Runs one saga (untimed) and returns each task's wait from scheduled to handed to a worker, from its history. */
  dispatchDelays(): Promise<number[]>;
  /** One sync POST (fast path on or off) split into the spans its saga's history shows. */
  budgetSample(fastPath: boolean): Promise<BudgetSample>;
  request(method: 'GET' | 'POST', path: string, headers?: Record<string, string>, api?: BenchEnvironment['api']): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Named spans of one saga's sync POST, in order; the same name in every sample of the same shape. */
export type BudgetSample = { name: string; ms: number }[];

type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

/**
 * Splits [request sent, response received] at every history event: edge until the start, then
 * each gap between consecutive events named after the pair (a workflow task's dispatch and run,
 * with the local activities it recorded; an activity's dispatch and run), then result + reply.
 */
export function budgetSegments(events: HistoryEvent[], t0: number, t1: number): BudgetSample {
  const out: BudgetSample = [];
  let wft = 0;
  const activityName = new Map<number, string>();
  let prev = t0;
  const edgeName = 'edge: request → workflow started (auth, validation, start RPC)';
  const push = (name: string, at: number) => {
    out.push({ name, ms: at - prev });
    prev = at;
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const at = tsToMs(e.eventTime);
    const id = Number(e.eventId);
    if (e.workflowExecutionStartedEventAttributes) {
      push(edgeName, at);
    } else if (e.workflowTaskScheduledEventAttributes) {
      wft += 1;
      push(wft === 1 ? 'start → workflow task 1 scheduled' : `→ workflow task ${wft} scheduled`, at);
    } else if (e.workflowTaskStartedEventAttributes) {
      push(`workflow task ${wft}: dispatch (scheduled → started)`, at);
    } else if (e.workflowTaskCompletedEventAttributes) {
      // The local activities this task ran follow it as markers (among patch markers and search
      // attribute upserts); each says when it was scheduled (its core's `original_schedule_time`),
      // which splits the task's run: until the first is scheduled, the workflow's own start; between
      // two, the earlier one's call and the code after it. (The markers' `complete_time` did not
      // agree with these on this machine, so it is not used.)
      let last: string | undefined;
      for (let j = i + 1; j < events.length && (events[j]!.markerRecordedEventAttributes || events[j]!.upsertWorkflowSearchAttributesEventAttributes); j++) {
        const local = localActivity(events[j]!);
        if (!local) continue;
        push(`workflow task ${wft}: ${last ? `local activity ${last} (call + code after it)` : 'workflow code until the first local activity'} → ${local.type} scheduled`, local.scheduledAt);
        last = local.type;
      }
      push(`workflow task ${wft}: ${last ? `local activity ${last} (call + code after it) → task completed` : 'run on the worker'}`, at);
    } else if (e.activityTaskScheduledEventAttributes) {
      activityName.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity');
      push(`workflow task ${wft} → ${activityName.get(id)} scheduled`, at);
    } else if (e.activityTaskStartedEventAttributes) {
      push(`${activityName.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? 'activity'}: dispatch`, at);
    } else if (e.activityTaskCompletedEventAttributes) {
      push(`${activityName.get(Number(e.activityTaskCompletedEventAttributes.scheduledEventId)) ?? 'activity'}: run (downstream call)`, at);
    } else if (e.workflowExecutionCompletedEventAttributes) {
      push(`workflow task ${wft} → workflow completed`, at);
    }
  }
  push('result long-poll answered → 201 at the client (edge reply)', t1);
  return out;
}

/** A local activity's marker: its type and when it was scheduled, in its `data` detail (JSON written by the SDK's core). */
function localActivity(e: HistoryEvent): { type: string; scheduledAt: number } | undefined {
  const marker = e.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_local_activity') return undefined;
  try {
    const data = marker.details?.data?.payloads?.[0]?.data;
    const parsed = JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { activity_type?: string; original_schedule_time?: { seconds: number; nanos: number } };
    const at = parsed.original_schedule_time;
    if (!parsed.activity_type || !at) return undefined;
    return { type: parsed.activity_type, scheduledAt: at.seconds * 1000 + at.nanos / 1e6 };
  } catch {
    return undefined;
  }
}

export async function createBench(env: BenchEnvironment, customerId: string): Promise<Bench> {
  const authorization = `Bearer ${await env.token(customerId)}`;
  const runTag = randomUUID().slice(0, 8);
  let counter = 0;
  const nextKey = () => `bench-${runTag}-${++counter}`;
  const eager = new Map<number, { requested: number; started: number }>();

  /** The saga input the POST route builds for a request. */
  const sagaInput = (): OrderSagaInput => ({
    customerId,
    idempotencyKey: nextKey(),
    order: ORDER,
    fingerprint: fingerprint(ORDER),
    startToken: randomUUID(),
    requestId: randomUUID(),
    receivedAt: new Date().toISOString(),
  });

  /**
   * The start request the edge sends (src/api: workflow ID from the key, conflict and reuse
   * policies, memo, search attributes), so every bare-SDK variant starts exactly the same workflow.
   */
  const startOptions = (input: OrderSagaInput) =>
    ({
      taskQueue: env.taskQueue,
      workflowId: orderWorkflowId(input.customerId, input.idempotencyKey),
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      memo: { idempotencyKey: input.idempotencyKey, fingerprint: input.fingerprint, startToken: input.startToken },
      typedSearchAttributes: [
        { key: searchAttributes.customerId, value: input.customerId },
        { key: searchAttributes.orderKey, value: input.idempotencyKey },
        { key: searchAttributes.sagaStatus, value: 'running' },
      ],
    }) satisfies WorkflowStartOptions<typeof orderSaga>;

  const startSaga = (client: Client, input: OrderSagaInput, extra: { requestEagerStart?: boolean } = {}) =>
    client.workflow.start<typeof orderSaga>('orderSaga', { ...startOptions(input), ...extra });

  async function request(method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, api = env.api) {
    const res = await api.request({
      method,
      path,
      headers: { authorization, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...headers },
      body: method === 'POST' ? ORDER_JSON : undefined,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  const postOrder = (prefer?: string) => request('POST', '/v1/orders', { 'idempotency-key': nextKey(), ...(prefer ? { prefer } : {}) });
  const getOrder = (key: string) => request('GET', `/v1/orders/${encodeURIComponent(key)}`);

  // The "keep it simple" synchronous proxy: the same four calls with the project's clients, one key per step.
  const direct = chainSteps(env.direct);
  const directOrder = () => runChain(direct, chainInput(ORDER, customerId, `direct:${customerId}:${nextKey()}`));
  // The same steps as the local activities of a workflow with nothing else in it: durability alone.
  const bareSaga = () =>
    env.client.workflow.execute<typeof bareSagaWorkflow>('bareSaga', { taskQueue: env.bareQueue, workflowId: `bare-${runTag}-${++counter}`, args: [chainInput(ORDER, customerId, `bare:${customerId}:${nextKey()}`)] });

  const [completedPair, runningPair, webhookPair] = [alternator(), alternator(), alternator()];
  const stripe = new Stripe('sk_bench_unused');
  /** A payment event for a saga, signed the way the provider signs it, POSTed to the receiver. */
  async function postWebhook(workflowId: string) {
    const payload = JSON.stringify({ id: `evt_${randomUUID()}`, object: 'event', type: 'charge.updated', data: { object: { id: 'ch_bench', metadata: { reference: workflowId } } } });
    const res = await env.api.request({
      method: 'POST',
      path: '/v1/webhooks/payments',
      headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: BENCH_WEBHOOK_SECRET }) },
      body: payload,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  /** Starts a saga and holds it at grantAccess (the rule wins over the latency rule), for reads and signals mid-flight. */
  async function heldSaga(latencyMs: number) {
    // On its queue: a saga mid local activity holds its workflow task, and a query waits for that task to end.
    const input = { ...sagaInput(), fastPath: false };
    const workflowId = orderWorkflowId(input.customerId, input.idempotencyKey);
    const hold: FaultRule = { idempotencyKey: downstreamKey(workflowId, 'grantAccess', '1'), latencyMs: HOLD_MS, times: 1 };
    await env.setFaults('fulfilment', [hold, ...latencyRules(latencyMs)]);
    const handle = await startSaga(env.client, input);
    await waitForStep(handle.workflowId, 'grantAccess', env.client);
    return { input, workflowId, handle };
  }
  const scenarios: Scenario[] = [
    { rows: ['direct'], run: (time) => time('direct', directOrder) },
    { rows: ['bare'], run: (time) => time('bare', bareSaga) },
    {
      // The plain edge, the one with metrics and tracing on, and the one with the fast path off, back
      // to back in a random order: measured under the same load.
      rows: ['edgeSync', 'edgeSyncObserved', 'edgeSyncQueued'],
      async run(time) {
        const plain = () => time('edgeSync', postOrder).then((res) => check(res.status === 201 && res.body.status === 'completed', 'edge sync POST', res));
        const observed = () =>
          time('edgeSyncObserved', () => request('POST', '/v1/orders', { 'idempotency-key': nextKey() }, env.apiObserved)).then((res) =>
            check(res.status === 201 && res.body.status === 'completed', 'edge sync POST, observed', res),
          );
        const queued = () =>
          time('edgeSyncQueued', () => request('POST', '/v1/orders', { 'idempotency-key': nextKey() }, env.apiQueued)).then((res) =>
            check(res.status === 201 && res.body.status === 'completed', 'edge sync POST, FAST_PATH=false', res),
          );
        for (const run of shuffle([plain, observed, queued])) await run();
      },
    },
    {
      rows: ['sdk'],
      async run(time) {
        const status = await time('sdk', async () => (await startSaga(env.client, sagaInput())).result());
        check(status.status === 'completed', 'SDK start + result', status);
      },
    },
    {
      rows: ['mechA'],
      // The edge's round trips for a request whose workflow exists: start, describe (its memo tells creator from retry), long-poll the result.
      async run(time) {
        const status = await time('mechA', async () => {
          const handle = await startSaga(env.client, sagaInput());
          await handle.describe();
          return handle.result();
        });
        check(status.status === 'completed', '(a) start + describe + result', status);
      },
    },
    {
      rows: ['mechC'],
      async run(time, latencyMs) {
        let eagerlyStarted = false;
        const status = await time('mechC', async () => {
          const handle = await startSaga(env.nativeClient, sagaInput(), { requestEagerStart: true });
          eagerlyStarted = handle.eagerlyStarted;
          return handle.result();
        });
        check(status.status === 'completed', '(c) eager start + result', status);
        const counts = eager.get(latencyMs) ?? { requested: 0, started: 0 };
        eager.set(latencyMs, { requested: counts.requested + 1, started: counts.started + (eagerlyStarted ? 1 : 0) });
      },
    },
    {
      rows: ['mechC0'],
      async run(time) {
        const status = await time('mechC0', async () => (await startSaga(env.nativeClient, sagaInput())).result());
        check(status.status === 'completed', '(c0) native start + result', status);
      },
    },
    {
      rows: ['edgeAsync'],
      async run(time) {
        const res = await time('edgeAsync', () => postOrder('respond-async'));
        check(res.status === 202, 'respond-async POST', res);
        // Let it finish before the next iteration, so no saga runs in the background of another measurement.
        await env.client.workflow.getHandle(String(res.body.transactionId)).result();
      },
    },
    {
      rows: ['getCompleted', 'resultCompleted'],
      async run(time) {
        const input = sagaInput();
        const handle = await startSaga(env.client, input);
        await handle.result();
        await completedPair(
          async () => {
            const res = await time('getCompleted', () => getOrder(input.idempotencyKey));
            check(res.status === 200 && res.body.status === 'completed', 'GET completed', res);
          },
          async () => {
            const status = await time('resultCompleted', () => env.client.workflow.getHandle<typeof orderSaga>(handle.workflowId).result());
            check(status.status === 'completed', 'result() of a completed saga', status);
          },
        );
      },
    },
    {
      // What any edge answer costs before Temporal is asked anything: the floor under every GET ratio.
      rows: ['edgeFloor'],
      async run(time) {
        const res = await time('edgeFloor', () => request('GET', '/v1/unknown'));
        check(res.status === 404, 'GET of an unknown route', res);
      },
    },
    {
      rows: ['getRunning', 'queryRunning'],
      async run(time, latencyMs) {
        const { input, workflowId, handle } = await heldSaga(latencyMs);
        await runningPair(
          async () => {
            const res = await time('getRunning', () => getOrder(input.idempotencyKey));
            check(res.status === 200 && res.body.status === 'running', 'GET running', res);
          },
          async () => {
            const status = await time('queryRunning', () => env.client.workflow.getHandle(workflowId).query(orderStatusQuery));
            check(status.status === 'running', 'query of a running saga', status);
          },
        );
        await handle.result();
      },
    },
  ];

  scenarios.push({
    rows: ['webhookSignal', 'signalRunning'],
    async run(time, latencyMs) {
      const { workflowId, handle } = await heldSaga(latencyMs);
      await webhookPair(
        async () => {
          const res = await time('webhookSignal', () => postWebhook(workflowId));
          check(res.status === 200 && res.body.result === 'signalled', 'webhook POST', res);
        },
        async () => {
          const event = { source: 'payments', eventId: `evt_${randomUUID()}`, type: 'charge.updated', receivedAt: new Date().toISOString() };
          await time('signalRunning', () => env.client.workflow.getHandle(workflowId).signal(webhookEventSignal, event));
        },
      );
      await handle.result();
    },
  });

  async function dispatchDelays(): Promise<number[]> {
    const handle = await startSaga(env.client, sagaInput());
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const timeOf = new Map(events.map((e) => [Number(e.eventId), tsToMs(e.eventTime)]));
    return events.flatMap((e) => {
      const scheduledEventId = (e.workflowTaskStartedEventAttributes ?? e.activityTaskStartedEventAttributes)?.scheduledEventId;
      const scheduledAt = scheduledEventId === undefined || scheduledEventId === null ? undefined : timeOf.get(Number(scheduledEventId));
      return scheduledAt === undefined ? [] : [tsToMs(e.eventTime) - scheduledAt];
    });
  }

  /**
   * One sync POST timed at the client, then its saga's history: where the milliseconds went, from
   * the event timestamps (server clock, same machine as the client's).
   */
  async function budgetSample(fastPath: boolean): Promise<BudgetSample> {
    const key = nextKey();
    const t0 = Date.now();
    const res = await request('POST', '/v1/orders', { 'idempotency-key': key }, fastPath ? env.api : env.apiQueued);
    const t1 = Date.now();
    check(res.status === 201 && res.body.status === 'completed', 'budget POST', res);
    const events = (await env.client.workflow.getHandle(orderWorkflowId(customerId, key)).fetchHistory()).events ?? [];
    return budgetSegments(events, t0, t1);
  }

  return { scenarios, eager, postOrder, directOrder, dispatchDelays, budgetSample, request };
}

/** The rules that give every call of a simulator `latencyMs`. */
export function latencyRules(latencyMs: number): FaultRule[] {
  return latencyMs > 0 ? [{ latencyMs }] : [];
}

/** Polls the status query until `step` is running (bounded: the hold is only HOLD_MS long). */
async function waitForStep(workflowId: string, step: string, client: Client): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const status: OrderStatus = await client.workflow.getHandle(workflowId).query(orderStatusQuery);
    if (status.steps.find((s) => s.name === step)?.state === 'running') return;
    if (Date.now() > deadline) throw new Error(`${workflowId}: ${step} never seen running (${status.status})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Fisher–Yates on a copy. */
export function shuffle<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * Runs two measurements on the same saga, swapping which goes first on every call, so neither
 * always pays for (or profits from) the other. One alternator per scenario.
 */
function alternator(): (a: () => Promise<void>, b: () => Promise<void>) => Promise<void> {
  let flip = false;
  return async (a, b) => {
    flip = !flip;
    for (const fn of flip ? [a, b] : [b, a]) await fn();
  };
}

/** A benchmark of a wrong answer is worthless: stop at the first one. */
export function check(ok: boolean, what: string, got: unknown): void {
  if (!ok) throw new Error(`${what}: unexpected answer ${JSON.stringify(got).slice(0, 500)}`);
}
