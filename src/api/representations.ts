/**
 * What the edge answers, as zod schemas: the source of the OpenAPI document's response bodies
 * (src/api/openapi.ts), next to the request schemas in contracts/. The routes build these shapes;
 * the integration tests check every answer against the document generated from them.
 */
import { z } from 'zod';
import { CustomerId, Money, OperatorDecision, OrderStatus, PlacedOrder, SagaStatus, TransactionStatus } from '../contracts/order';
import { RefundStatus } from '../contracts/refund';

export const Links = z.object({ self: z.string() });

/** RFC 9457 problem details; extension members (`errors`, `reason`, …) depend on the type. */
export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ pointer: z.string(), detail: z.string() })).optional(),
  })
  .loose();

/** 202: the transaction is recorded and running; follow `links.self` (also `Location`). */
export const Accepted = z.object({ transactionId: z.string(), status: z.literal('running'), links: Links });

/** Shown while no worker answers queries: what Temporal's own index says. */
const StatusUnavailable = z.object({ status: SagaStatus, detail: z.string(), links: Links });

const view = <T extends z.ZodObject>(status: T) => status.omit({ workflowId: true }).extend({ transactionId: z.string(), links: Links });
/**
 * Output is read leniently (routes/orders.ts readLeniently): an amount recorded before the edge
 * bounded order totals may be longer than `Money` allows today, and is still shown as recorded.
 */
const RecordedOrder = PlacedOrder.extend({ total: z.object({ amount: z.string().regex(/^\d+(\.\d{1,2})?$/), currency: z.string() }) });
export const OrderStatusView = z.union([view(OrderStatus.extend({ order: RecordedOrder.optional() })), StatusUnavailable]);
export const RefundStatusView = z.union([view(RefundStatus), StatusUnavailable]);
export const AdminStatusView = z.union([view(TransactionStatus).loose(), StatusUnavailable]);

export const HistoryPage = z.object({
  orders: z.array(z.object({ orderNumber: z.string(), status: z.string(), total: z.object({ amount: Money, currency: z.string() }), createdAt: z.string() })),
  page: z.number().int(),
  pageSize: z.number().int(),
  total: z.number().int(),
  nextPage: z.number().int().nullable(),
  /** True when served from the cache because the order service is not answering. */
  stale: z.boolean(),
});

export const AdminTransactionList = z.object({
  items: z.array(
    z.object({
      transactionId: z.string(),
      type: z.string(),
      customerId: z.string().optional(),
      orderKey: z.string().optional(),
      sagaStatus: z.string().optional(),
      failedStep: z.string().optional(),
      startedAt: z.string(),
      closedAt: z.string().optional(),
      links: Links,
    }),
  ),
  query: z.string(),
});

export const DecisionAccepted = z.object({ accepted: z.literal(true), step: z.string(), action: z.enum(['retry', 'skip', 'abort']), operator: z.string() });
export const ResetAccepted = z.object({ transactionId: z.string(), runId: z.string().nullish(), attempt: z.number().int().optional(), resetBy: z.string(), reason: z.string(), links: Links }).loose();

export const WebhookAck = z.object({ received: z.literal(true), result: z.enum(['signalled', 'held-until-started', 'recorded-late', 'duplicate-late']) });

export const Health = z.object({ status: z.enum(['ok', 'ready']), detail: z.string().optional() });

export const CodecPayloads = z.object({ payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).nullish(), data: z.string().nullish() })) });

/**
 * The support API's requests (routes/admin.ts validates with these, and the document describes them).
 * A query parameter the list does not know (a page token, a misspelt filter) is a 400, not ignored.
 */
export const AdminListQuery = z.strictObject({
  status: SagaStatus.optional(),
  customerId: CustomerId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
export const AdminDecision = OperatorDecision.omit({ operator: true });
export const AdminResetRequest = z.strictObject({ reason: z.string().min(1).max(1000) });
