/**
 * orderSaga: create the legacy order → charge → grant access → complete the legacy order. When a
 * step fails for good, what was done is undone newest first (revoke, refund, cancel) and the
 * workflow fails with the business reason and the final step states in its details.
 */
import { workflowInfo } from '@temporalio/workflow';
import { ORDER_COMPENSATIONS, ORDER_STEPS, downstreamKey, formatMinorUnits, toMinorUnits, totalMinorUnits, type OrderSagaInput, type OrderStatus, type PlacedOrder } from '../contracts/order';
import { activityProxies } from './activity-options';
import { Saga } from './saga';
import { runTransaction } from './transaction';

export async function orderSaga(input: OrderSagaInput): Promise<OrderStatus> {
  const { workflowId } = workflowInfo();
  const { forward, compensation: undo } = activityProxies();
  const saga = new Saga(ORDER_STEPS);
  const key = (step: string) => downstreamKey(workflowId, step);
  const common = { reference: workflowId, requestId: input.requestId };
  const amountMinor = totalMinorUnits(input.order.items);
  const compensation = (step: keyof typeof ORDER_COMPENSATIONS, run: (idempotencyKey: string) => Promise<unknown>) => {
    const name = ORDER_COMPENSATIONS[step];
    return { name, run: () => run(key(name)) };
  };

  return runTransaction(input, saga, async (): Promise<{ order: PlacedOrder }> => {
    const created = await saga.run(
      'createOrder',
      () =>
        forward.legacyEcommerce.createOrder({
          ...common,
          idempotencyKey: key('createOrder'),
          customerId: input.customerId,
          currency: input.order.currency,
          lines: input.order.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceMinor: toMinorUnits(i.unitPrice) })),
        }),
      compensation('createOrder', (idempotencyKey) => undo.legacyEcommerce.cancelOrder({ ...common, idempotencyKey })),
    );
    const charge = await saga.run(
      'chargePayment',
      () => forward.payments.chargePayment({ ...common, idempotencyKey: key('chargePayment'), amountMinor, currency: input.order.currency, token: input.order.paymentMethod.token }),
      compensation('chargePayment', (idempotencyKey) => undo.payments.refundPayment({ ...common, idempotencyKey })),
    );
    const access = await saga.run(
      'grantAccess',
      () => forward.fulfilment.grantAccess({ ...common, idempotencyKey: key('grantAccess'), customerId: input.customerId, skus: input.order.items.map((i) => i.sku) }),
      compensation('grantAccess', (idempotencyKey) => undo.fulfilment.revokeAccess({ ...common, idempotencyKey })),
    );
    await saga.run('completeOrder', () => forward.legacyEcommerce.completeOrder({ ...common, idempotencyKey: key('completeOrder'), orderNumber: created.orderNumber }));

    return {
      order: {
        orderNumber: created.orderNumber,
        chargeId: charge.chargeId,
        enrollmentId: access.enrollmentId,
        total: { amount: formatMinorUnits(amountMinor), currency: input.order.currency },
      },
    };
  }) as Promise<OrderStatus>;
}

