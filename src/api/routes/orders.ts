/**
 * Order commands and status. Thin: parse the request, ask Temporal, map the outcome to HTTP
 * (RFC 7240 sync or async answers, Idempotency-Key replays, problem details for failures).
 */
import { randomUUID } from 'node:crypto';
import { Router, type Response } from 'express';
import { PlaceOrder, type OrderSagaInput, type OrderStatus } from '../../contracts/order';
import { principalOf } from '../middleware/auth';
import { fingerprint, idempotencyKeyOf, parseBody, preferencesOf, requireJson } from '../http-semantics';
import type { OrderTransactions, Outcome } from '../order-transactions';
import { HttpProblem, sendProblem } from '../problem';

export interface OrderRoutesOptions {
  transactions: OrderTransactions;
  syncWaitMaxMs: number;
}

const RETRY_AFTER_SECONDS = '1';

export function orderRoutes({ transactions, syncWaitMaxMs }: OrderRoutesOptions): Router {
  const router = Router();

  router.post('/v1/orders', async (req, res) => {
    const { customerId } = principalOf(res);
    const idempotencyKey = idempotencyKeyOf(req);
    requireJson(req);
    const order = parseBody(PlaceOrder, req.body);
    const prefs = preferencesOf(req);
    res.vary('Prefer');

    const input: OrderSagaInput = {
      customerId,
      idempotencyKey,
      order,
      fingerprint: fingerprint(order),
      startToken: randomUUID(),
      requestId: res.locals.requestId as string,
      receivedAt: new Date().toISOString(),
    };
    const { handle, attached, running } = await transactions.start(input);
    const location = statusPath(idempotencyKey);

    if (prefs.respondAsync && !attached) {
      res.setHeader('Preference-Applied', 'respond-async');
      return accepted(res, location, handle.workflowId);
    }
    if (attached) {
      // The same request again: replay a finished outcome, or say it is still being processed.
      const outcome = running ? undefined : await transactions.waitForOutcome(handle, syncWaitMaxMs);
      if (!outcome || outcome.state === 'running') {
        throw new HttpProblem(409, 'request-in-progress', 'Request already in progress', 'A request with this Idempotency-Key is still being processed; follow Location for its status.', { location }, { Location: location, 'Retry-After': RETRY_AFTER_SECONDS });
      }
      res.setHeader('Idempotent-Replayed', 'true');
      return respondWithOutcome(res, outcome, location);
    }

    const waitMs = Math.min(prefs.waitSeconds !== undefined ? prefs.waitSeconds * 1000 : syncWaitMaxMs, syncWaitMaxMs);
    if (prefs.waitSeconds !== undefined) res.setHeader('Preference-Applied', `wait=${prefs.waitSeconds}`);
    const outcome = await transactions.waitForOutcome(handle, waitMs);
    if (outcome.state === 'running') return accepted(res, location, handle.workflowId);
    return respondWithOutcome(res, outcome, location);
  });

  router.get('/v1/orders/:idempotencyKey', async (req, res) => {
    const { customerId } = principalOf(res);
    const key = String(req.params.idempotencyKey);
    const outcome = await transactions.status(customerId, key);
    res.setHeader('Cache-Control', 'no-store');
    if (!outcome) {
      throw new HttpProblem(404, 'never-received', 'Never received', 'This request was never received: no request with this Idempotency-Key has reached us from you (or its record has expired). Nothing was done; it is safe to send it again.', { idempotencyKey: key });
    }
    if (!outcome.status) {
      return res.status(200).json({ idempotencyKey: key, status: 'running', detail: 'Live step detail is unavailable right now; try again shortly.', links: { self: statusPath(key) } });
    }
    res.status(200).json(view(outcome.status, statusPath(key)));
  });

  return router;
}

export function statusPath(idempotencyKey: string): string {
  return `/v1/orders/${encodeURIComponent(idempotencyKey)}`;
}

function accepted(res: Response, location: string, transactionId: string): void {
  res
    .status(202)
    .setHeader('Location', location)
    .setHeader('Content-Location', location)
    .setHeader('Retry-After', RETRY_AFTER_SECONDS)
    .json({ transactionId, status: 'running', links: { self: location } });
}

function respondWithOutcome(res: Response, outcome: Exclude<Outcome, { state: 'running' }>, location: string): void {
  if (outcome.state === 'completed') {
    res.status(201).setHeader('Location', location).setHeader('Content-Location', location).json(view(outcome.status, location));
    return;
  }
  const { status } = outcome;
  const compensated = status.steps
    .filter((s) => s.state === 'compensated' && s.compensation)
    .map((s) => ({ step: s.name, compensation: s.compensation!, outcome: s.compensationOutcome ?? 'done' }));
  res.setHeader('Content-Location', location);
  sendProblem(
    res,
    new HttpProblem(
      422,
      'order-failed',
      'Order could not be completed',
      `${status.failure?.message ?? 'The order failed.'}${compensated.length ? ` Compensated: ${compensated.map((c) => `${c.compensation} (${c.outcome})`).join(', ')}.` : ''}`,
      {
        transactionId: status.workflowId,
        reason: outcome.failureType,
        failedStep: status.failure?.step,
        sagaStatus: status.status,
        compensated,
        steps: status.steps,
      },
    ),
  );
}

function view(status: OrderStatus, self: string) {
  const { workflowId, ...rest } = status;
  return { transactionId: workflowId, ...rest, links: { self } };
}
