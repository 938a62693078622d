/** Liveness (the process answers) and readiness (Temporal answers too). */
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { HttpProblem } from '../problem';

export function healthRoutes({ client }: { client: Client }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await client.withDeadline(Date.now() + 2_000, () => client.workflowService.getSystemInfo({}));
    } catch {
      throw new HttpProblem(503, 'not-ready', 'Not ready', 'Temporal is not answering.', {}, { 'Retry-After': '1' });
    }
    res.json({ status: 'ready' });
  });
  return router;
}
