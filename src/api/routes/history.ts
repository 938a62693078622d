/** GET /v1/orders: the signed-in customer's order history, proxied to the legacy service through the cache. */
import { Router } from 'express';
import { z } from 'zod';
import { DownstreamContractViolation, DownstreamRejected, DownstreamUnavailable } from '../../clients/errors';
import { parseBody } from '../http-semantics';
import { principalOf } from '../middleware/auth';
import type { OrderHistory } from '../order-history';
import { HttpProblem } from '../problem';

export const HistoryQuery = z.object({
  page: z.coerce.number().int().min(1).max(10_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});

export function historyRoutes({ history }: { history: OrderHistory }): Router {
  const router = Router();
  router.get('/v1/orders', async (req, res) => {
    const { customerId, region } = principalOf(res);
    const { page, pageSize } = parseBody(HistoryQuery, req.query, 'query');
    let answer;
    try {
      answer = await history.read(customerId, page, pageSize, { requestId: res.locals.requestId as string, region });
    } catch (err) {
      if (err instanceof DownstreamUnavailable) {
        const retryAfter = String(Math.max(1, Math.ceil((err.retryAfterMs ?? 5_000) / 1000)));
        throw new HttpProblem(503, 'order-history-unavailable', 'Order history temporarily unavailable', 'The order service is not answering and no copy of your history is cached yet.', {}, { 'Retry-After': retryAfter });
      }
      if (err instanceof DownstreamRejected || err instanceof DownstreamContractViolation) {
        throw new HttpProblem(502, 'order-history-bad-gateway', 'Order history unavailable', 'The order service gave an answer we could not use.');
      }
      throw err;
    }
    // Private to the caller; our own cache decides freshness (RFC 9111 Age, RFC 9211 Cache-Status).
    res.setHeader('Cache-Control', 'private, no-cache');
    if (answer.source === 'origin') {
      res.setHeader('Cache-Status', 'saga-coordinator; fwd=miss; stored');
      return res.json({ ...answer.page, stale: false });
    }
    res.setHeader('Age', String(answer.ageSeconds));
    res.setHeader('Cache-Status', answer.source === 'stale' ? 'saga-coordinator; hit; detail=stale-origin-unavailable' : 'saga-coordinator; hit');
    res.json({ ...answer.page, stale: answer.source === 'stale' });
  });
  return router;
}
