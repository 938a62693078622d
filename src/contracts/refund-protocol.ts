/** The part of the refund contract the workflow uses: its steps and workflow ID. No zod (see transaction-protocol.ts for why). */

export const REFUND_STEPS = ['refundPayment', 'revokeAccess', 'markOrderRefunded'] as const;

export function refundWorkflowId(customerId: string, orderKey: string): string {
  return `refund:${encodeURIComponent(customerId)}:${encodeURIComponent(orderKey)}`;
}
