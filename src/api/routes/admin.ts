/**
 * The support API (role `support`): find transactions by status or customer, read any one, decide
 * on a parked one (retry / skip / abort, recorded with who decided), and reset ("replay") one from
 * its start — safe because every downstream call carries the same key as the first time.
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type Long from 'long';
import { z } from 'zod';
import { CustomerId, OperatorDecision, SAGA_ID_PREFIXES, SagaStatus, TransactionStatus, decideUpdate, searchAttributes } from '../../contracts/transaction';
import { statusView } from '../commands';
import { parseBody } from '../http-semantics';
import { principalOf, requireRole } from '../middleware/auth';
import { HttpProblem } from '../problem';
import type { Transactions } from '../transactions';

const ListQuery = z.object({
  status: SagaStatus.optional(),
  customerId: CustomerId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const Decision = OperatorDecision.omit({ operator: true });
const ResetRequest = z.strictObject({ reason: z.string().min(1).max(1000) });

// Support sees any saga whole: keep the fields of its own result (order, refund) too.
const ANY_SAGA = { workflowType: 'any', status: TransactionStatus.loose() };

export function adminRoutes({ client, transactions }: { client: Client; transactions: Transactions }): Router {
  const router = Router();
  router.use('/v1/admin', requireRole('support'));

  const sagaId = (raw: string) => {
    if (!SAGA_ID_PREFIXES.some((p) => raw.startsWith(p))) throw new HttpProblem(404, 'not-found', 'No such transaction', `${raw} is not a transaction ID.`);
    return raw;
  };

  router.get('/v1/admin/transactions', async (req, res) => {
    const { status, customerId, limit } = parseBody(ListQuery, req.query, 'query');
    // Values are validated against closed alphabets above, so they are safe inside the query.
    const clauses = ['CustomerId IS NOT NULL', ...(status ? [`SagaStatus = "${status}"`] : []), ...(customerId ? [`CustomerId = "${customerId}"`] : [])];
    const items = [];
    for await (const wf of client.workflow.list({ query: clauses.join(' AND '), pageSize: limit })) {
      const sa = wf.typedSearchAttributes;
      items.push({
        transactionId: wf.workflowId,
        type: wf.type,
        customerId: sa.get(searchAttributes.customerId),
        orderKey: sa.get(searchAttributes.orderKey),
        sagaStatus: sa.get(searchAttributes.sagaStatus),
        failedStep: sa.get(searchAttributes.failedStep),
        startedAt: wf.startTime.toISOString(),
        closedAt: wf.closeTime?.toISOString(),
        links: { self: `/v1/admin/transactions/${encodeURIComponent(wf.workflowId)}` },
      });
      if (items.length >= limit) break;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json({ items, query: clauses.join(' AND ') });
  });

  router.get('/v1/admin/transactions/:workflowId', async (req, res) => {
    const id = sagaId(String(req.params.workflowId));
    const outcome = await transactions.status(ANY_SAGA, id);
    if (!outcome) throw new HttpProblem(404, 'not-found', 'No such transaction', `No transaction ${id}.`);
    res.setHeader('Cache-Control', 'no-store');
    res.json(statusView(outcome, `/v1/admin/transactions/${encodeURIComponent(id)}`));
  });

  router.post('/v1/admin/transactions/:workflowId/decisions', async (req, res) => {
    const id = sagaId(String(req.params.workflowId));
    const decision = parseBody(Decision, req.body);
    const operator = principalOf(res).customerId;
    try {
      const result = await client.workflow.getHandle(id).executeUpdate(decideUpdate, { args: [{ ...decision, operator }] });
      res.status(200).json({ ...result, operator });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new HttpProblem(404, 'not-found', 'No such running transaction', `${id} is not running.`);
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure) {
        const status = cause.type === 'NotParked' ? 409 : 422;
        throw new HttpProblem(status, 'decision-rejected', 'Decision rejected', cause.message, { reason: cause.type });
      }
      throw err;
    }
  });

  router.post('/v1/admin/transactions/:workflowId/reset', async (req, res) => {
    const id = sagaId(String(req.params.workflowId));
    const { reason } = parseBody(ResetRequest, req.body);
    const operator = principalOf(res).customerId;
    const handle = client.workflow.getHandle(id);
    let firstTask: Long | undefined;
    let runId: string;
    try {
      const history = await handle.fetchHistory();
      runId = (await handle.describe()).runId;
      firstTask = history.events?.find((e) => e.workflowTaskCompletedEventAttributes)?.eventId ?? undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new HttpProblem(404, 'not-found', 'No such transaction', `No transaction ${id}.`);
      throw err;
    }
    if (!firstTask) throw new HttpProblem(409, 'not-resettable', 'Cannot reset', 'The transaction has not completed its first workflow task yet.');
    // Replays every step from the start under the same workflow ID, so with the same downstream keys.
    const reset: { runId?: string | null } = await client.workflowService.resetWorkflowExecution({
      namespace: client.options.namespace,
      workflowExecution: { workflowId: id, runId },
      workflowTaskFinishEventId: firstTask,
      requestId: randomUUID(),
      reason: `${reason} (by ${operator})`,
    });
    res.status(202).json({ transactionId: id, runId: reset.runId, resetBy: operator, reason, links: { self: `/v1/admin/transactions/${encodeURIComponent(id)}` } });
  });

  return router;
}
