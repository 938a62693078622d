/**
 * The refund saga's contract: a customer-initiated full refund of a completed order. One refund
 * per order: its workflow ID comes from the order, so a second refund request for the same order
 * (another Idempotency-Key) finds the first instead of refunding twice.
 */
import { z } from 'zod';
import type { QueryDefinition } from '@temporalio/workflow';
import { TransactionRequest, TransactionStatus, transactionStatusQuery } from './transaction';

export * from './refund-protocol';

export const RequestRefund = z.strictObject({ reason: z.string().max(500).optional() });
export type RequestRefund = z.infer<typeof RequestRefund>;

export const RefundSagaInput = TransactionRequest.extend({
  /** The order's Idempotency-Key and workflow ID: the refund finds the charge, access and legacy order by it. */
  orderKey: z.string(),
  orderWorkflowId: z.string(),
  /** The reference of the order attempt that completed (`<orderWorkflowId>#<n>` after a replay); absent: the order's workflow ID. */
  orderReference: z.string().optional(),
  /** Support skipped the order's grant as done by hand: the access is not ours to revoke, so revoking it is support's too. */
  accessGrantedByHand: z.boolean().optional(),
  reason: z.string().optional(),
});
export type RefundSagaInput = z.infer<typeof RefundSagaInput>;

export const RefundOutcome = z.object({ orderKey: z.string(), payment: z.string(), access: z.string(), legacyOrder: z.string() });
export type RefundOutcome = z.infer<typeof RefundOutcome>;

export const RefundStatus = TransactionStatus.extend({ refund: RefundOutcome.optional() });
export type RefundStatus = z.infer<typeof RefundStatus>;
export const refundStatusQuery = transactionStatusQuery as QueryDefinition<RefundStatus>;
