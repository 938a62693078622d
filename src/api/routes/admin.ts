/**
 * The support API (role `support`): find transactions by status or customer, read any one, decide
 * on a parked one (retry / skip / abort, recorded with who decided; one decision at a time), and
 * replay ("reset") a compensated one as a new attempt — refused, with the reason, in every state
 * where a new attempt could put money and access out of step.
 */
import { Router } from 'express';
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SAGA_ID_PREFIXES, TransactionStatus, decideUpdate, searchAttributes } from '../../contracts/transaction';

const SAGA_WORKFLOW_TYPES = ['orderSaga', 'refundSaga'];
import { statusView } from '../commands';
import { idempotencyKeyOf, parseBody } from '../http-semantics';
import { principalOf, requireRole } from '../middleware/auth';
import { AdminDecision, AdminListQuery, AdminResetRequest } from '../representations';
import { HttpProblem } from '../problem';
import { TEMPORAL_DEADLINES, readUnavailable, type Transactions } from '../transactions';

// The request schemas are the OpenAPI document's (representations.ts): one source for both.
const Decision = AdminDecision;
const ResetRequest = AdminResetRequest;
const DECISION_DEADLINE_MS = 10_000;

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
    const { status, customerId, limit } = parseBody(AdminListQuery, req.query, 'query');
    // Values are validated against closed alphabets above, so they are safe inside the query.
    // A saga that is running, compensating or parked is a running workflow: a run of it that was
    // terminated or reset away keeps its last SagaStatus but is not what support acts on.
    const live = status === 'running' || status === 'compensating' || status === 'needs_attention';
    // Transactions only: a record of a webhook event that came late carries its customer too.
    const clauses = ['CustomerId IS NOT NULL', `WorkflowType IN (${SAGA_WORKFLOW_TYPES.map((t) => `'${t}'`).join(', ')})`, ...(status ? [`SagaStatus = "${status}"`] : []), ...(live ? ['ExecutionStatus = "Running"'] : []), ...(customerId ? [`CustomerId = "${customerId}"`] : [])];
    const items: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    const collect = async () => {
      for await (const wf of client.workflow.list({ query: clauses.join(' AND '), pageSize: limit })) {
        // Newest run first: a run reset or terminated away (an earlier run of the same transaction) is not listed twice.
        if (seen.has(wf.workflowId)) continue;
        seen.add(wf.workflowId);
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
    };
    // Bounded like every other read: a Temporal that does not answer is a 503 with Retry-After, not a hang.
    await client.withDeadline(Date.now() + TEMPORAL_DEADLINES.readMs, collect).catch(() => Promise.reject(readUnavailable()));
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
      // A decision is answered once applied; bounded, so a saga with no worker cannot hold the request for ever.
      const result = await client.withDeadline(Date.now() + DECISION_DEADLINE_MS, () => client.workflow.getHandle(id).executeUpdate(decideUpdate, { args: [{ ...decision, operator }] }));
      res.status(200).json({ ...result, operator });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        // A settled transaction is a decision that does not fit (409), not a missing one.
        const closed = await transactions.status(ANY_SAGA, id).catch(() => undefined);
        if (closed) throw new HttpProblem(409, 'decision-rejected', 'Decision rejected', `Nothing waits for a decision: ${id} is ${closed.status?.status ?? closed.state}.`, { reason: 'NotRunning' });
        throw new HttpProblem(404, 'not-found', 'No such transaction', `No transaction ${id}.`);
      }
      if (err instanceof ServiceError || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
        throw new HttpProblem(503, 'decision-unconfirmed', 'Decision not confirmed', 'The decision could not be confirmed in time: it may or may not have been taken. Look at the transaction before deciding again (a second decision while one is applied is refused).', {}, { 'Retry-After': '2' });
      }
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure) {
        const status = cause.type === 'NotParked' || cause.type === 'DecisionInProgress' ? 409 : 422;
        throw new HttpProblem(status, 'decision-rejected', 'Decision rejected', cause.message, { reason: cause.type });
      }
      throw err;
    }
  });

  // Replay ("reset"): the business transaction again as a new attempt, where that is safe; refused
  // with what to do instead where it is not (see transactions.replay). Idempotent per Idempotency-Key.
  router.post('/v1/admin/transactions/:workflowId/reset', async (req, res) => {
    const id = sagaId(String(req.params.workflowId));
    const key = idempotencyKeyOf(req);
    const { reason } = parseBody(ResetRequest, req.body);
    const operator = principalOf(res).customerId;
    const { runId, attempt, replayed, by } = await transactions.replay(id, { operator, reason, key });
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    const self = `/v1/admin/transactions/${encodeURIComponent(id)}`;
    // A repeat answers as the replay it repeats: who started it, and why.
    res.status(202).setHeader('Location', self).json({ transactionId: id, runId, attempt, resetBy: by?.operator ?? operator, reason: by?.reason ?? reason, links: { self } });
  });

  return router;
}
