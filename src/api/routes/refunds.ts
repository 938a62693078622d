/** Refund commands and status: one refund per completed order, with the same edge semantics as orders. */
import { Router } from 'express';
import { orderWorkflowId, searchAttributes } from '../../contracts/order';
import { RefundStatus, RequestRefund, refundWorkflowId, type RefundSagaInput } from '../../contracts/refund';
import { SKIPPED_BY_OPERATOR } from '../../contracts/transaction-protocol';
import { runCommand, sendKeyRetention, statusView, transactionRequest } from '../commands';
import { idempotencyKeyOf, parseBody, requireJson, unquotedKey } from '../http-semantics';
import { principalOf } from '../middleware/auth';
import { HttpProblem } from '../problem';
import { notRecorded, type SagaKind } from '../transactions';
import { ORDER, neverReceived, orderPath, readLeniently, type RouteOptions } from './orders';

export const REFUND: SagaKind<RefundStatus> = { workflowType: 'refundSaga', status: readLeniently(RefundStatus) };

const refundPath = (orderKey: string) => `${orderPath(orderKey)}/refund`;

export function refundRoutes(options: RouteOptions): Router {
  const { transactions } = options;
  const router = Router();

  router.post('/v1/orders/:orderKey/refunds', async (req, res) => {
    const { customerId } = principalOf(res);
    const orderKey = unquotedKey(String(req.params.orderKey));
    const idempotencyKey = idempotencyKeyOf(req);
    // The body is optional: a POST with none (no Content-Length, or 0, and no chunked body) is `{}`.
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
    if (hasBody) requireJson(req);
    const body = parseBody(RequestRefund, req.body ?? {});

    // A command's 503 says where to look, like every other (here nothing was recorded: the order could not be read).
    const order = await transactions.status(ORDER, orderWorkflowId(customerId, orderKey)).catch((err: unknown) => Promise.reject(err instanceof HttpProblem && err.status === 503 ? notRecorded(refundPath(orderKey)) : err));
    if (!order) throw neverReceived(orderKey, 'order');
    if (order.state !== 'completed') {
      const status = order.status?.status ?? (order.state === 'running' ? order.sagaStatus : order.state);
      throw new HttpProblem(409, 'order-not-refundable', 'Order cannot be refunded', `Only a completed order can be refunded; this one is ${status}.`, { orderStatus: status }, { 'Content-Location': orderPath(orderKey) });
    }
    const input: RefundSagaInput = {
      ...transactionRequest(res, customerId, idempotencyKey, { orderKey, ...body }),
      orderKey,
      orderWorkflowId: orderWorkflowId(customerId, orderKey),
      // The attempt that completed (after a support replay, not the first one): the refund undoes that one.
      ...(order.status?.order?.reference ? { orderReference: order.status.order.reference } : {}),
      ...(order.status?.order?.enrollmentId === SKIPPED_BY_OPERATOR ? { accessGrantedByHand: true } : {}),
      reason: body.reason,
    };
    await runCommand(req, res, options, {
      kind: REFUND,
      workflowId: refundWorkflowId(customerId, orderKey),
      input,
      location: refundPath(orderKey),
      searchAttributes: [{ key: searchAttributes.orderKey, value: orderKey }],
    });
  });

  router.get('/v1/orders/:orderKey/refund', async (req, res) => {
    const { customerId } = principalOf(res);
    const orderKey = unquotedKey(String(req.params.orderKey));
    const outcome = await transactions.status(REFUND, refundWorkflowId(customerId, orderKey));
    res.setHeader('Cache-Control', 'no-store');
    await sendKeyRetention(res, transactions);
    if (!outcome) throw new HttpProblem(404, 'not-refunded', 'No refund', 'No refund was ever requested for this order.', { orderKey });
    res.json(statusView(outcome, refundPath(orderKey)));
  });

  return router;
}
