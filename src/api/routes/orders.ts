/** Order commands and status: parse, hand to runCommand / the transactions, map. */
import { Router } from 'express';
import { z } from 'zod';
import { OrderStatus, PlaceOrder, TransactionStatus, orderWorkflowId, searchAttributes, type OrderSagaInput } from '../../contracts/order';
import { runCommand, sendKeyRetention, statusView, transactionRequest, type CommandContext } from '../commands';
import { idempotencyKeyOf, parseBody, requireJson, unquotedKey } from '../http-semantics';
import { principalOf } from '../middleware/auth';
import { HttpProblem } from '../problem';
import type { SagaKind } from '../transactions';

/**
 * Reads a saga's status for output: as our schema says when it can, otherwise as recorded (any
 * history whose result our current schema would refuse — an older shape, an amount from before a
 * bound existed), so that a status is never a 500 for ever. Only input is validated strictly.
 */
export function readLeniently<S extends TransactionStatus>(schema: z.ZodType<S>): z.ZodType<S> {
  return z.unknown().transform((value, ctx): S => {
    const strict = schema.safeParse(value);
    if (strict.success) return strict.data;
    const recorded = TransactionStatus.loose().safeParse(value);
    if (recorded.success) return recorded.data as S;
    const v = (value && typeof value === 'object' ? value : {}) as Partial<TransactionStatus>;
    if (typeof v.workflowId !== 'string') {
      ctx.issues.push({ code: 'custom', message: 'not a saga status', input: value });
      return z.NEVER;
    }
    // A saga status of another shape: keep what identifies it, without the step detail.
    return {
      workflowId: v.workflowId,
      customerId: String(v.customerId ?? ''),
      idempotencyKey: String(v.idempotencyKey ?? ''),
      status: TransactionStatus.shape.status.safeParse(v.status).data ?? 'failed',
      steps: [],
      requestId: String(v.requestId ?? ''),
      receivedAt: String(v.receivedAt ?? ''),
      updatedAt: String(v.updatedAt ?? ''),
    } as TransactionStatus as S;
  }) as unknown as z.ZodType<S>;
}

export const ORDER: SagaKind<OrderStatus> = { workflowType: 'orderSaga', status: readLeniently(OrderStatus) };

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
    const key = unquotedKey(String(req.params.idempotencyKey));
    const outcome = await transactions.status(ORDER, orderWorkflowId(customerId, key));
    res.setHeader('Cache-Control', 'no-store');
    await sendKeyRetention(res, transactions);
    if (!outcome) throw neverReceived(key);
    res.json(statusView(outcome, orderPath(key)));
  });

  return router;
}
