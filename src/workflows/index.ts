/** The workflow bundle's entry point: re-exports only. */
export { orderSaga } from './order';
export { refundSaga } from './refund';
export { heldWebhookEvents, webhookEventRecord } from './webhook-event';
