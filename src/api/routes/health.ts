/**
 * Liveness (the process answers) and readiness: an order can run, which needs Temporal to answer
 * and at least one worker polling each task queue (the workflows' and every downstream's).
 * Readiness is cached briefly, so that load balancers probing often cost Temporal little.
 */
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TaskQueues } from '../../contracts/transaction';
import { HttpProblem } from '../problem';

const { TaskQueueType } = temporal.api.enums.v1;

/** A poller seen longer ago than this is gone (an idle worker re-polls about every minute). */
const POLLER_SEEN_WITHIN_MS = 90_000;

interface Readiness {
  ready: boolean;
  detail: string;
  checkedAt: number;
}

export interface HealthOptions {
  client: Client;
  taskQueues: TaskQueues;
  /** How long one readiness answer is reused. */
  cacheMs?: number;
}

export function healthRoutes({ client, taskQueues, cacheMs = 2_000 }: HealthOptions): Router {
  const router = Router();
  const queues = [
    { name: taskQueues.orders, type: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW },
    ...[taskQueues.legacyEcommerce, taskQueues.payments, taskQueues.fulfilment].map((name) => ({ name, type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY })),
  ];

  async function check(): Promise<Readiness> {
    const checkedAt = Date.now();
    try {
      return await client.withDeadline(checkedAt + 2_000, async () => {
        await client.workflowService.getSystemInfo({});
        const described = await Promise.all(
          queues.map(async (q) => {
            const { pollers } = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: q.name }, taskQueueType: q.type });
            const live = (pollers ?? []).filter((p) => checkedAt - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < POLLER_SEEN_WITHIN_MS);
            return { queue: q.name, live: live.length };
          }),
        );
        const idle = described.filter((d) => d.live === 0).map((d) => d.queue);
        return idle.length
          ? { ready: false, detail: `No worker is polling task queue${idle.length > 1 ? 's' : ''} ${idle.join(', ')}: orders would wait.`, checkedAt }
          : { ready: true, detail: 'Temporal answers and every task queue has a worker.', checkedAt };
      });
    } catch {
      return { ready: false, detail: 'Temporal is not answering.', checkedAt };
    }
  }

  let last: Readiness | undefined;
  let inFlight: Promise<Readiness> | undefined;
  async function readiness(): Promise<Readiness> {
    if (last && Date.now() - last.checkedAt < cacheMs) return last;
    inFlight ??= check().finally(() => (inFlight = undefined));
    last = await inFlight;
    return last;
  }

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, detail } = await readiness();
    res.setHeader('Cache-Control', 'no-store');
    if (!ready) throw new HttpProblem(503, 'not-ready', 'Not ready', detail, {}, { 'Retry-After': '1' });
    res.json({ status: 'ready', detail });
  });
  return router;
}
