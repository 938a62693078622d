/** Order commands and status: parse, hand to runCommand / the transactions, map. */
import { Router } from 'express';
import { OrderStatus, PlaceOrder, orderWorkflowId, searchAttributes, type OrderSagaInput } from '../../contracts/order';
import { runCommand, sendKeyRetention, statusView, transactionRequest, type CommandContext } from '../commands';
import { idempotencyKeyOf, parseBody, requireJson } from '../http-semantics';
import { principalOf } from '../middleware/auth';
import { HttpProblem } from '../problem';
import type { SagaKind } from '../transactions';

export const ORDER: SagaKind<OrderStatus> = { workflowType: 'orderSaga', status: OrderStatus };

export type RouteOptions = CommandContext & { paymentTimeoutSeconds?: number };

export function orderPath(orderKey: string): string {
  return `/v1/orders/${encodeURIComponent(orderKey)}`;
}

export function neverReceived(key: string, what = 'request'): HttpProblem {
  return new HttpProblem(
    404,
    'never-received',
    'Never received',
    `This ${what} was never received: no request with this Idempotency-Key has reached us from you, or it settled longer ago than Idempotency-Key-Retention seconds and is forgotten. Nothing is in progress under this key; it is safe to send it again.`,
    { idempotencyKey: key },
  );
}

export function orderRoutes(options: RouteOptions): Router {
  const { transactions } = options;
  const router = Router();

  router.post('/v1/orders', async (req, res) => {
    const { customerId } = principalOf(res);
    const idempotencyKey = idempotencyKeyOf(req);
    requireJson(req);
    const order = parseBody(PlaceOrder, req.body);
    const input: OrderSagaInput = { ...transactionRequest(res, customerId, idempotencyKey, order), order, paymentTimeoutSeconds: options.paymentTimeoutSeconds };
    await runCommand(req, res, options, {
      kind: ORDER,
      workflowId: orderWorkflowId(customerId, idempotencyKey),
      input,
      location: orderPath(idempotencyKey),
      searchAttributes: [{ key: searchAttributes.orderKey, value: idempotencyKey }],
    });
  });

  router.get('/v1/orders/:idempotencyKey', async (req, res) => {
    const { customerId } = principalOf(res);
    const key = String(req.params.idempotencyKey);
    const outcome = await transactions.status(ORDER, orderWorkflowId(customerId, key));
    res.setHeader('Cache-Control', 'no-store');
    await sendKeyRetention(res, transactions);
    if (!outcome) throw neverReceived(key);
    res.json(statusView(outcome, orderPath(key)));
  });

  return router;
}
