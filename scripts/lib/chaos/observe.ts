/**
 * What the checker reads at the end of a chaos run, from the sources that do not belong to the
 * coordinator: the simulators' ledgers and objects, and Temporal's visibility and histories
 * (webhook signals decoded with the deployment's payload keys).
 */
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { loadConfig } from '../../../src/config';
import { EncryptionCodec, dataConverter } from '../../../src/temporal/codec';
import { HELD_EVENTS_WORKFLOW, type DownstreamState, type LedgerEffect, type Service, type WorkflowFact } from './checker';
import type { Cluster } from './cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

export async function connect(cluster: Cluster): Promise<Client> {
  const connection = await Connection.connect({ address: cluster.temporalAddress });
  return new Client({ connection, dataConverter: dataConverter(loadConfig(cluster.env)) });
}

/** Waits until no transaction runs except those parked for an operator, or the deadline passes; returns how many still run. */
export async function waitForQuiescence(client: Client, deadline: number, onTick: (running: number) => void): Promise<number> {
  for (;;) {
    let running = 0;
    try {
      for await (const w of client.workflow.list({ query: 'ExecutionStatus="Running"' })) {
        if (w.type === HELD_EVENTS_WORKFLOW) continue; // a bounded hold of early webhook events, not a transaction
        if ((w.searchAttributes?.SagaStatus as string[] | undefined)?.[0] !== 'needs_attention') running += 1;
      }
    } catch {
      running = -1; // Temporal not answering yet
    }
    onTick(running);
    if (running === 0 || Date.now() > deadline) return running;
    await sleep(2_000);
  }
}

export async function readLedgers(cluster: Cluster): Promise<{ ledger: LedgerEffect[]; state: DownstreamState }> {
  const ledger: LedgerEffect[] = [];
  for (const service of ['legacy', 'payments', 'fulfilment'] as Service[]) {
    const { effects } = await getJson<{ effects: Omit<LedgerEffect, 'service'>[] }>(`${cluster.simUrls[service]}/_sim/ledger`);
    ledger.push(...effects.map((e) => ({ ...e, service })));
  }
  const [legacy, payments, fulfilment] = await Promise.all([
    getJson<Pick<DownstreamState, 'orders'>>(`${cluster.simUrls.legacy}/_sim/state`),
    getJson<Pick<DownstreamState, 'charges' | 'refunds'>>(`${cluster.simUrls.payments}/_sim/state`),
    getJson<Pick<DownstreamState, 'enrollments'>>(`${cluster.simUrls.fulfilment}/_sim/state`),
  ]);
  return { ledger, state: { ...legacy, ...payments, ...fulfilment } };
}

/**
 * Every transaction Temporal knows, as its latest run (a reset or a replay makes several runs of
 * one workflow ID; the newest speaks for it), with the webhook signals of all its runs (from the
 * histories) and, if still running, whether an activity waits to be retried.
 */
export async function readWorkflows(client: Client, cluster: Cluster, onProgress: (done: number, total: number) => void): Promise<WorkflowFact[]> {
  const codec = new EncryptionCodec(loadConfig(cluster.env).PAYLOAD_KEYS);
  const latest = new Map<string, WorkflowFact & { startedAt: number }>();
  const runs: { workflowId: string; runId: string }[] = [];
  for await (const w of client.workflow.list()) {
    if (w.type !== 'webhookEventRecord') runs.push({ workflowId: w.workflowId, runId: w.runId });
    const fact = { workflowId: w.workflowId, type: w.type, status: w.status.name, sagaStatus: (w.searchAttributes?.SagaStatus as string[] | undefined)?.[0], failedStep: (w.searchAttributes?.FailedStep as string[] | undefined)?.[0], signalledEventIds: [], openRetry: false, startedAt: w.startTime.getTime() };
    const known = latest.get(w.workflowId);
    if (!known || fact.startedAt > known.startedAt) latest.set(w.workflowId, fact);
  }
  let done = 0;
  const queue = [...runs];
  const work = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      const fact = latest.get(run.workflowId)!;
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      for (const event of history.events ?? []) {
        const signal = event.workflowExecutionSignaledEventAttributes;
        if (signal?.signalName !== 'webhookEvent' || !signal.input?.payloads?.length) continue;
        const [payload] = await codec.decode(signal.input.payloads as Payload[]);
        const decoded = defaultPayloadConverter.fromPayload<{ eventId?: string }>(payload!);
        if (decoded?.eventId) fact.signalledEventIds.push(decoded.eventId);
      }
      onProgress(++done, runs.length);
    }
  };
  await Promise.all(Array.from({ length: 6 }, work));
  for (const fact of latest.values()) {
    if (fact.status !== 'RUNNING') continue;
    const description = await client.workflow.getHandle(fact.workflowId).describe();
    fact.openRetry = (description.raw.pendingActivities ?? []).length > 0;
  }
  return [...latest.values()].map(({ startedAt: _, ...fact }) => fact);
}
