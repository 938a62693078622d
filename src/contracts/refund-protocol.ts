/** The part of the refund contract the workflow uses: its steps and workflow ID. No zod (see transaction-protocol.ts for why). */

/** Access goes before the money: a refund never leaves access without a charge, even while fulfilment is down. */
export const REFUND_STEPS = ['revokeAccess', 'refundPayment', 'markOrderRefunded'] as const;
/** A refund's one compensation: a refund that cannot be made after access was revoked gives the access back (abort). */
export const REFUND_COMPENSATIONS = { revokeAccess: 'restoreAccess' } as const;
/** The order of refunds started before access went first (their histories replay so). */
export const REFUND_STEPS_MONEY_FIRST = ['refundPayment', 'revokeAccess', 'markOrderRefunded'] as const;

export function refundWorkflowId(customerId: string, orderKey: string): string {
  return `refund:${encodeURIComponent(customerId)}:${encodeURIComponent(orderKey)}`;
}
