/**
 * orderSaga: create the legacy order → charge → grant access → complete the legacy order. When a
 * step fails for good, what was done is undone newest first (revoke, refund, cancel) and the
 * workflow fails with the business reason and the final step states in its details.
 */
import { ApplicationFailure, TemporalFailure, allHandlersFinished, condition, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  ORDER_COMPENSATIONS,
  SETTLED_STATUSES,
  attachUpdate,
  ORDER_STEPS,
  downstreamKey,
  formatMinorUnits,
  orderStatusQuery,
  prefixOfOrdersQueue,
  searchAttributes,
  taskQueues,
  toMinorUnits,
  totalMinorUnits,
  type OrderSagaInput,
  type OrderStatus,
  type SagaStatus,
} from '../contracts/order';
import { Saga, describeFailure } from './saga';

/**
 * Forward steps retry transient failures (5xx, timeouts, 429) for about two and a half minutes,
 * then the saga gives up and compensates; business rejections are non-retryable at the source.
 * The start-to-close timeout sits above the clients' own HTTP timeouts so the client reports first.
 */
const FORWARD: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
};

/** Compensations retry generously: they are idempotent, and giving up means money or access stays wrong. */
const COMPENSATION: ActivityOptions = {
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
};

export async function orderSaga(input: OrderSagaInput): Promise<OrderStatus> {
  const { workflowId, taskQueue } = workflowInfo();
  const queues = taskQueues(prefixOfOrdersQueue(taskQueue));
  const legacy = proxyActivities<Activities['legacyEcommerce']>({ ...FORWARD, taskQueue: queues.legacyEcommerce });
  const payments = proxyActivities<Activities['payments']>({ ...FORWARD, taskQueue: queues.payments });
  const fulfilment = proxyActivities<Activities['fulfilment']>({ ...FORWARD, taskQueue: queues.fulfilment });
  const undoLegacy = proxyActivities<Activities['legacyEcommerce']>({ ...COMPENSATION, taskQueue: queues.legacyEcommerce });
  const undoPayments = proxyActivities<Activities['payments']>({ ...COMPENSATION, taskQueue: queues.payments });
  const undoFulfilment = proxyActivities<Activities['fulfilment']>({ ...COMPENSATION, taskQueue: queues.fulfilment });

  const saga = new Saga(ORDER_STEPS);
  let status: SagaStatus = 'running';
  let failure: OrderStatus['failure'];
  let order: OrderStatus['order'];
  const snapshot = (): OrderStatus => ({
    workflowId,
    customerId: input.customerId,
    idempotencyKey: input.idempotencyKey,
    status,
    steps: saga.steps.map((s) => ({ ...s })),
    order,
    failure,
    requestId: input.requestId,
    receivedAt: input.receivedAt,
    updatedAt: new Date().toISOString(),
  });
  setHandler(orderStatusQuery, snapshot);
  setHandler(
    attachUpdate,
    async ({ startToken, waitForOutcome }) => {
      const created = startToken === input.startToken;
      if (created && waitForOutcome) await condition(() => SETTLED_STATUSES.includes(status));
      return { created, status: snapshot() };
    },
    {
      validator: ({ fingerprint }) => {
        if (fingerprint !== input.fingerprint) {
          throw ApplicationFailure.create({ type: 'IdempotencyKeyReused', message: 'This Idempotency-Key was first used with a different request body.', nonRetryable: true });
        }
      },
    },
  );

  const setStatus = (next: SagaStatus, failedStep?: string) => {
    status = next;
    upsertSearchAttributes([
      { key: searchAttributes.sagaStatus, value: next },
      ...(failedStep ? [{ key: searchAttributes.failedStep, value: failedStep }] : []),
    ]);
  };

  const key = (step: string) => downstreamKey(workflowId, step);
  const common = { reference: workflowId, requestId: input.requestId };
  const amountMinor = totalMinorUnits(input.order.items);
  const compensation = (step: keyof typeof ORDER_COMPENSATIONS, run: (idempotencyKey: string) => Promise<unknown>) => {
    const name = ORDER_COMPENSATIONS[step];
    return { name, run: () => run(key(name)) };
  };

  let current: string = ORDER_STEPS[0];
  try {
    const created = await saga.run(
      (current = 'createOrder'),
      () =>
        legacy.createOrder({
          ...common,
          idempotencyKey: key('createOrder'),
          customerId: input.customerId,
          currency: input.order.currency,
          lines: input.order.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceMinor: toMinorUnits(i.unitPrice) })),
        }),
      compensation('createOrder', (idempotencyKey) => undoLegacy.cancelOrder({ ...common, idempotencyKey })),
    );
    const charge = await saga.run(
      (current = 'chargePayment'),
      () => payments.chargePayment({ ...common, idempotencyKey: key('chargePayment'), amountMinor, currency: input.order.currency, token: input.order.paymentMethod.token }),
      compensation('chargePayment', (idempotencyKey) => undoPayments.refundPayment({ ...common, idempotencyKey })),
    );
    const access = await saga.run(
      (current = 'grantAccess'),
      () => fulfilment.grantAccess({ ...common, idempotencyKey: key('grantAccess'), customerId: input.customerId, skus: input.order.items.map((i) => i.sku) }),
      compensation('grantAccess', (idempotencyKey) => undoFulfilment.revokeAccess({ ...common, idempotencyKey })),
    );
    await saga.run((current = 'completeOrder'), () => legacy.completeOrder({ ...common, idempotencyKey: key('completeOrder'), orderNumber: created.orderNumber }));

    order = {
      orderNumber: created.orderNumber,
      chargeId: charge.chargeId,
      enrollmentId: access.enrollmentId,
      total: { amount: formatMinorUnits(amountMinor), currency: input.order.currency },
    };
    setStatus('completed');
    await condition(allHandlersFinished); // let waiting callers receive the outcome before the run closes
    return snapshot();
  } catch (err) {
    // A plain Error here is a bug in our code: let it fail the workflow task so it retries once fixed.
    if (!(err instanceof TemporalFailure)) throw err;
    const reason = describeFailure(err);
    failure = { step: current, ...reason };
    setStatus('compensating', current);
    const compensationFailures = await saga.compensate();
    if (compensationFailures.length > 0) {
      setStatus('failed', current);
      await condition(allHandlersFinished);
      throw ApplicationFailure.create({
        type: 'CompensationFailed',
        message: `Order failed at ${current} (${reason.type}) and could not be fully undone: ${compensationFailures.map((f) => `${f.compensation}: ${f.error.message}`).join('; ')}`,
        nonRetryable: true,
        details: [snapshot()],
        cause: err,
      });
    }
    setStatus('compensated', current);
    await condition(allHandlersFinished);
    throw ApplicationFailure.create({
      type: reason.type,
      message: `Order failed at ${current}: ${reason.message}`,
      nonRetryable: true,
      details: [snapshot()],
      cause: err,
    });
  }
}
