/**
 * The API as a contract: an OpenAPI 3.1 document generated from the zod schemas that validate the
 * requests (contracts/, routes) and describe the answers (representations.ts), with zod's own JSON
 * Schema output (OpenAPI 3.1 schemas are JSON Schema 2020-12). Served at /openapi.json, with
 * Swagger UI at /docs. The routes and the document are held together by test/unit/openapi.test.ts.
 */
import { Router, type RequestHandler } from 'express';
import swaggerUi from 'swagger-ui-express';
import { z } from 'zod';
import { IdempotencyKey, MAX_ORDER_TOTAL_MINOR, MIN_ORDER_TOTAL_MINOR, PlaceOrder, formatMinorUnits } from '../contracts/order';
import { RequestRefund } from '../contracts/refund';
import { HttpProblem, PROBLEM_TYPE_BASE } from './problem';
import * as R from './representations';
import { CodecRequest } from './routes/codec';
import { HistoryQuery } from './routes/history';

export interface DocumentOptions {
  /** Which optional parts the app serves, as createApp decides them. */
  history: boolean;
  paymentsWebhook: boolean;
  codec: boolean;
  /** GET /metrics (Prometheus text), served when the API records metrics. */
  metrics?: boolean;
}

/** Every problem type the edge answers with: status, title and an example detail (docs/problems.md explains each). */
export const PROBLEM_TYPES = {
  'idempotency-key-missing': [400, 'Idempotency-Key required', 'Every command needs an Idempotency-Key header; reuse it when you retry.'],
  'idempotency-key-invalid': [400, 'Invalid Idempotency-Key', 'The Idempotency-Key must be 1 to 255 visible ASCII characters.'],
  'invalid-body': [400, 'Invalid request body', '1 field(s) are invalid.'],
  'invalid-query': [400, 'Invalid request query', '1 field(s) are invalid.'],
  'malformed-json': [400, 'Malformed JSON', 'The request body is not valid JSON.'],
  'bad-request': [400, 'Malformed request URL', 'A path segment is not valid percent-encoding.'],
  unauthenticated: [401, 'Invalid token', 'The bearer token has expired; get a new one.'],
  forbidden: [403, 'Forbidden', 'This needs the "support" role.'],
  'never-received': [404, 'Never received', 'This request was never received: … it is safe to send it again.'],
  'not-found': [404, 'Not found', 'No route for GET /v1/nope.'],
  'not-refunded': [404, 'No refund', 'No refund was ever requested for this order.'],
  'unknown-webhook-source': [404, 'Unknown webhook source', 'No webhook source named acme is configured.'],
  'request-in-progress': [409, 'Request already in progress', 'A request with this Idempotency-Key is still being processed; follow Location for its status.'],
  'transaction-exists': [409, 'Already requested', 'Another request (with another Idempotency-Key) already started this transaction; follow Location for its status.'],
  'order-not-refundable': [409, 'Order cannot be refunded', 'Only a completed order can be refunded; this one is compensated.'],
  'not-resettable': [409, 'This transaction cannot be replayed now', 'It completed: there is nothing to replay. To undo it, refund it.'],
  'decision-rejected': [409, 'Decision rejected', 'Nothing is parked: there is no decision to make.'],
  'method-not-allowed': [405, 'Method not allowed', 'TRACE is not allowed on /v1/orders; allowed: GET, HEAD, POST.'],
  'body-too-large': [413, 'Request body too large', 'The body exceeds 32768 bytes.'],
  'unsupported-media-type': [415, 'Unsupported media type', 'Send the body as application/json.'],
  'idempotency-key-reused': [422, 'Idempotency-Key already used for another request', 'This Idempotency-Key was first used with a different request body. Use a new key for a new request.'],
  'transaction-failed': [422, 'The transaction could not be completed', 'The payment was declined. Compensated: cancelOrder (cancelled).'],
  'payload-undecodable': [422, 'Payload cannot be decoded', 'No key with ID k2025 is configured.'],
  'rate-limited': [429, 'Too many requests', 'More than 60 requests in 60 s (customer-commands); retry after Retry-After seconds.'],
  'invalid-webhook-signature': [400, 'Invalid webhook signature', 'The signature does not match any current secret, or its timestamp is outside the tolerance.'],
  'invalid-webhook-payload': [400, 'Unusable webhook event', 'The event does not have the fields we route by.'],
  'headers-too-large': [431, 'Request headers too large', "The request headers exceed the server's limit."],
  'request-timeout': [408, 'Request timeout', 'The request was not received in time.'],
  internal: [500, 'Internal error', 'Something went wrong on our side; the request ID identifies it in our logs.'],
  'order-history-bad-gateway': [502, 'Order history unavailable', 'The order service gave an answer we could not use.'],
  'coordinator-unavailable': [503, 'Coordinator temporarily unavailable', 'The coordinator could not confirm that it recorded this request: it may or may not have. Retry with the same Idempotency-Key.'],
  'outcome-unavailable': [503, 'Recorded; outcome not available right now', 'Your request was received and recorded, and is being processed; its outcome could not be read just now. Look it up at Location.'],
  'decision-unconfirmed': [503, 'Decision not confirmed', 'The decision could not be confirmed in time: it may or may not have been taken. Look at the transaction before deciding again.'],
  'auth-unavailable': [503, 'Authentication temporarily unavailable', "The identity provider's keys could not be fetched; try again shortly."],
  'order-history-unavailable': [503, 'Order history temporarily unavailable', 'The order service is not answering and no copy of your history is cached yet.'],
  'event-not-recorded': [503, 'Event not recorded', 'The event could not be confirmed as recorded in time. Retry later: if it was recorded after all, the redelivery is dropped as a duplicate.'],
  'not-ready': [503, 'Not ready', 'Temporal is not answering.'],
} as const satisfies Record<string, readonly [number, string, string]>;
export type ProblemSlug = keyof typeof PROBLEM_TYPES;

type Json = Record<string, unknown>;

/** zod → JSON Schema 2020-12 components, `$ref`s between registered schemas. */
function components(io: 'input' | 'output', schemas: Record<string, { schema: z.ZodType; description?: string; examples?: unknown[] }>): Record<string, Json> {
  const registry = z.registry<{ id: string; description?: string; examples?: unknown[] }>();
  for (const [id, { schema, description, examples }] of Object.entries(schemas)) registry.add(schema, { id, ...(description ? { description } : {}), ...(examples ? { examples } : {}) });
  const out = z.toJSONSchema(registry, { target: 'draft-2020-12', io, unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(out.schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema as Json]));
}

/** One query parameter per property of a zod object (its input side). */
function queryParameters(schema: z.ZodObject): Json[] {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as { properties: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties).map(([name, s]) => ({ name, in: 'query', required: json.required?.includes(name) ?? false, schema: s }));
}

const ref = (kind: 'schemas' | 'headers' | 'parameters' | 'responses', name: string) => ({ $ref: `#/components/${kind}/${name}` });
const schemaRef = (name: string) => ref('schemas', name);

/** A problem+json answer with an example per problem type it may carry. */
function problems(description: string, slugs: ProblemSlug[], headers: Json = {}): Json {
  return {
    description,
    headers: { 'X-Request-Id': ref('headers', 'X-Request-Id'), ...headers },
    content: {
      'application/problem+json': {
        schema: schemaRef('Problem'),
        examples: Object.fromEntries(
          slugs.map((slug) => {
            const [status, title, detail] = PROBLEM_TYPES[slug];
            return [slug, { summary: title, value: { type: `${PROBLEM_TYPE_BASE}${slug}`, title, status, detail, requestId: 'b7e0c1de-2f4a-4c1e-9a51-0d3b0e6f8a11' } }];
          }),
        ),
      },
    },
  };
}

/** Groups problem slugs by status into OpenAPI responses. */
function problemResponses(slugs: ProblemSlug[]): Record<string, Json> {
  const byStatus = new Map<number, ProblemSlug[]>();
  for (const slug of new Set(slugs)) byStatus.set(PROBLEM_TYPES[slug][0], [...(byStatus.get(PROBLEM_TYPES[slug][0]) ?? []), slug]);
  const out: Record<string, Json> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const headers: Json = {};
    if (status === 401) headers['WWW-Authenticate'] = { description: 'RFC 6750 challenge, with `error="invalid_token"` and a description when a token was refused', required: true, schema: { type: 'string' } };
    if (status === 429 || status === 503) headers['Retry-After'] = { ...ref('headers', 'Retry-After') };
    if (status === 429) Object.assign(headers, { RateLimit: ref('headers', 'RateLimit'), 'RateLimit-Policy': ref('headers', 'RateLimit-Policy') });
    if (status === 409 && list.includes('request-in-progress')) {
      Object.assign(headers, {
        Location: { description: 'the status of the request in progress (`request-in-progress`), or of the transaction already requested (`transaction-exists`)', schema: { type: 'string' } },
        // Not required: only `request-in-progress` sends it (the other 409s are answers, not "try again").
        'Retry-After': { description: 'seconds until looking again is worthwhile (`request-in-progress` only)', schema: { type: 'string', pattern: '^\\d+$' } },
      });
    } else if (status === 409) Object.assign(headers, { Location: { description: 'the status of the transaction already requested (`transaction-exists`)', schema: { type: 'string' } } });
    out[String(status)] = problems(list.map((s) => PROBLEM_TYPES[s][1]).join('; '), list, headers);
  }
  return out;
}

const json = (schema: string, description: string, headers: Json = {}, examples?: Json): Json => ({
  description,
  headers: { 'X-Request-Id': ref('headers', 'X-Request-Id'), ...headers },
  content: { 'application/json': { schema: schemaRef(schema), ...(examples ? { examples } : {}) } },
});

const AUTHED: ProblemSlug[] = ['unauthenticated', 'rate-limited', 'internal', 'coordinator-unavailable', 'auth-unavailable'];
const BODY: ProblemSlug[] = ['invalid-body', 'malformed-json', 'body-too-large', 'unsupported-media-type'];
const COMMAND: ProblemSlug[] = [...AUTHED, ...BODY, 'idempotency-key-missing', 'idempotency-key-invalid', 'request-in-progress', 'idempotency-key-reused', 'transaction-failed', 'outcome-unavailable'];

const ORDER_EXAMPLE = { items: [{ sku: 'course-v1:DemoX+2026', quantity: 1, unitPrice: '49.00' }], currency: 'USD', paymentMethod: { token: 'tok_visa' } };
const STATUS_EXAMPLE = {
  transactionId: 'order:alice:order-1',
  customerId: 'alice',
  idempotencyKey: 'order-1',
  status: 'completed',
  steps: [
    { name: 'createOrder', state: 'completed', startedAt: '2026-11-28T10:00:00.010Z', completedAt: '2026-11-28T10:00:00.050Z', compensation: 'cancelOrder' },
    { name: 'chargePayment', state: 'completed', startedAt: '2026-11-28T10:00:00.060Z', completedAt: '2026-11-28T10:00:00.120Z', compensation: 'refundPayment' },
    { name: 'grantAccess', state: 'completed', startedAt: '2026-11-28T10:00:00.130Z', completedAt: '2026-11-28T10:00:00.170Z', compensation: 'revokeAccess' },
    { name: 'completeOrder', state: 'completed', startedAt: '2026-11-28T10:00:00.180Z', completedAt: '2026-11-28T10:00:00.210Z' },
  ],
  order: { orderNumber: 'LEG-000042', chargeId: 'ch_3f9a', enrollmentId: 'enr_81c2', total: { amount: '49.00', currency: 'USD' } },
  requestId: 'b7e0c1de-2f4a-4c1e-9a51-0d3b0e6f8a11',
  receivedAt: '2026-11-28T10:00:00.000Z',
  updatedAt: '2026-11-28T10:00:00.210Z',
  links: { self: '/v1/orders/order-1' },
};

export function openApiDocument(options: DocumentOptions): Json {
  const commandHeaders = [ref('parameters', 'Idempotency-Key'), ref('parameters', 'Prefer')];
  const customer = [{ bearerAuth: [] }];
  const created = (schema: string, example?: Json) =>
    json(schema, 'Completed within the wait: the result (`Location` is its status resource).', {
      Location: ref('headers', 'Location'),
      'Content-Location': ref('headers', 'Content-Location'),
      'Idempotent-Replayed': ref('headers', 'Idempotent-Replayed'),
      'Idempotency-Key-Retention': ref('headers', 'Idempotency-Key-Retention'),
      'Preference-Applied': ref('headers', 'Preference-Applied'),
      RateLimit: ref('headers', 'RateLimit'),
    }, example ? { completed: { value: example } } : undefined);
  const accepted = json('Accepted', '`Prefer: respond-async`, or the wait ran out: recorded and running; poll `Location`.', {
    Location: { ...ref('headers', 'Location') },
    'Content-Location': ref('headers', 'Content-Location'),
    'Retry-After': ref('headers', 'Retry-After'),
    'Preference-Applied': ref('headers', 'Preference-Applied'),
    'Idempotency-Key-Retention': ref('headers', 'Idempotency-Key-Retention'),
  });
  // Stateful links: a placed order's status, its refund, and the support view of it.
  const orderLinks = {
    GetOrder: { operationId: 'getOrder', parameters: { idempotencyKey: '$request.header.Idempotency-Key' } },
    GetTransaction: { operationId: 'getTransaction', parameters: { workflowId: '$response.body#/transactionId' } },
    Decide: { operationId: 'decide', parameters: { workflowId: '$response.body#/transactionId' } },
  };
  const statusHeaders = { 'Idempotency-Key-Retention': ref('headers', 'Idempotency-Key-Retention'), 'Cache-Control': { schema: { type: 'string' } } };

  const paths: Record<string, Record<string, Json>> = {
    '/v1/orders': {
      post: {
        operationId: 'placeOrder',
        tags: ['orders'],
        summary: 'Place an order',
        description: `Starts the order saga (create the legacy order → charge → grant access → complete), or attaches to the one this Idempotency-Key already started. The total must be between ${formatMinorUnits(MIN_ORDER_TOTAL_MINOR)} and ${formatMinorUnits(MAX_ORDER_TOTAL_MINOR)}.`,
        security: customer,
        parameters: commandHeaders,
        requestBody: { required: true, content: { 'application/json': { schema: schemaRef('PlaceOrder'), examples: { order: { value: ORDER_EXAMPLE } } } } },
        responses: {
          '201': { ...created('OrderStatusView', STATUS_EXAMPLE), links: { ...orderLinks, RequestRefund: { operationId: 'requestRefund', parameters: { orderKey: '$request.header.Idempotency-Key' } } } },
          '202': { ...accepted, links: orderLinks },
          ...problemResponses(COMMAND),
        },
      },
      ...(options.history
        ? {
            get: {
              operationId: 'listOrders',
              tags: ['orders'],
              summary: "The caller's order history",
              description: 'Read from the legacy orders service through a per-customer cache; served stale (`"stale": true`) when it is down.',
              security: customer,
              parameters: queryParameters(HistoryQuery),
              responses: {
                '200': json('HistoryPage', 'A page of orders.', { 'Cache-Status': { description: 'RFC 9211', schema: { type: 'string' } }, Age: { description: 'seconds since fetched (cached answers)', schema: { type: 'integer' } } }),
                ...problemResponses([...AUTHED, 'invalid-query', 'order-history-bad-gateway', 'order-history-unavailable']),
              },
            },
          }
        : {}),
    },
    '/v1/orders/{idempotencyKey}': {
      get: {
        operationId: 'getOrder',
        tags: ['orders'],
        summary: "An order transaction's status",
        description: 'Every step with its state, times and error; live retry state while Temporal retries one. `404 never-received` when no request with this key ever arrived.',
        security: customer,
        parameters: [{ name: 'idempotencyKey', in: 'path', required: true, schema: schemaRef('IdempotencyKey') }],
        responses: { '200': json('OrderStatusView', 'The transaction.', statusHeaders, { completed: { value: STATUS_EXAMPLE } }), ...problemResponses([...AUTHED, 'never-received', 'bad-request']) },
      },
    },
    '/v1/orders/{orderKey}/refunds': {
      post: {
        operationId: 'requestRefund',
        tags: ['refunds'],
        summary: 'Refund a completed order in full',
        description: 'One refund per order: another Idempotency-Key for the same order is `409 transaction-exists`.',
        security: customer,
        parameters: [{ name: 'orderKey', in: 'path', required: true, schema: schemaRef('IdempotencyKey') }, ...commandHeaders],
        requestBody: { required: false, content: { 'application/json': { schema: schemaRef('RequestRefund'), examples: { refund: { value: { reason: 'changed my mind' } } } } } },
        responses: {
          '201': { ...created('RefundStatusView'), links: { GetRefund: { operationId: 'getRefund', parameters: { orderKey: '$request.path.orderKey' } } } },
          '202': { ...accepted, links: { GetRefund: { operationId: 'getRefund', parameters: { orderKey: '$request.path.orderKey' } } } },
          ...problemResponses([...COMMAND, 'never-received', 'order-not-refundable', 'transaction-exists', 'bad-request']),
        },
      },
    },
    '/v1/orders/{orderKey}/refund': {
      get: {
        operationId: 'getRefund',
        tags: ['refunds'],
        summary: "A refund's status",
        security: customer,
        parameters: [{ name: 'orderKey', in: 'path', required: true, schema: schemaRef('IdempotencyKey') }],
        responses: { '200': json('RefundStatusView', 'The refund transaction.', statusHeaders), ...problemResponses([...AUTHED, 'not-refunded', 'bad-request']) },
      },
    },
    '/v1/admin/transactions': {
      get: {
        operationId: 'listTransactions',
        tags: ['support'],
        summary: 'Find transactions by saga status and customer (role `support`)',
        security: customer,
        parameters: queryParameters(R.AdminListQuery),
        responses: { '200': json('AdminTransactionList', 'Matching transactions, newest first.'), ...problemResponses([...AUTHED, 'forbidden', 'invalid-query']) },
      },
    },
    '/v1/admin/transactions/{workflowId}': {
      get: {
        operationId: 'getTransaction',
        tags: ['support'],
        summary: "Any transaction's status, parked step and decisions (role `support`)",
        security: customer,
        parameters: [ref('parameters', 'workflowId')],
        responses: { '200': json('AdminStatusView', 'The transaction.'), ...problemResponses([...AUTHED, 'forbidden', 'not-found', 'bad-request']) },
      },
    },
    '/v1/admin/transactions/{workflowId}/decisions': {
      post: {
        operationId: 'decide',
        tags: ['support'],
        summary: 'Decide on a parked saga: retry, skip or abort its parked step (role `support`)',
        security: customer,
        parameters: [ref('parameters', 'workflowId')],
        requestBody: { required: true, content: { 'application/json': { schema: schemaRef('AdminDecision'), examples: { skip: { value: { action: 'skip', reason: 'granted by hand in the LMS' } } } } } },
        responses: {
          '200': json('DecisionAccepted', 'The decision is recorded and acted on.'),
          ...problemResponses([...AUTHED, ...BODY, 'forbidden', 'not-found', 'decision-rejected', 'decision-unconfirmed', 'bad-request']),
          '422': problems('Decision rejected: it does not fit the parked step (`reason` says why: `ReasonRequired`, `InvalidDecision`, or `AbortNotSafe` — an abort that would leave money and access out of step, at a parked compensation or a refund step after the money went back)', ['decision-rejected']),
        },
      },
    },
    '/v1/admin/transactions/{workflowId}/reset': {
      post: {
        operationId: 'reset',
        tags: ['support'],
        summary: 'Replay ("reset") a compensated transaction as a new attempt (role `support`)',
        description: 'Refused with `409 not-resettable`, and what to do instead, in every state where a new attempt could put money and access out of step (running, parked, completed, partly undone). The same Idempotency-Key again answers the same replay.',
        security: customer,
        parameters: [ref('parameters', 'workflowId'), ref('parameters', 'Idempotency-Key')],
        requestBody: { required: true, content: { 'application/json': { schema: schemaRef('AdminResetRequest'), examples: { reset: { value: { reason: 'legacy outage over, replaying' } } } } } },
        responses: {
          '202': json('ResetAccepted', 'Replayed as a new attempt (`attempt`); follow `Location`. The same Idempotency-Key again answers the same replay (`Idempotent-Replayed: true`).', {
            Location: ref('headers', 'Location'),
            'Idempotent-Replayed': ref('headers', 'Idempotent-Replayed'),
          }),
          ...problemResponses([...AUTHED, ...BODY, 'forbidden', 'not-found', 'not-resettable', 'idempotency-key-missing', 'idempotency-key-invalid', 'idempotency-key-reused', 'bad-request']),
        },
      },
    },
    '/v1/webhooks/{source}': {
      post: {
        operationId: 'receivePartnerWebhook',
        tags: ['webhooks'],
        summary: 'A partner event, signed per Standard Webhooks',
        description: 'Verified with the secrets configured for `source` (`STANDARD_WEBHOOK_SECRETS`); the signed timestamp must be within 5 minutes either way. `data.reference` names our transaction.',
        parameters: [
          { name: 'source', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9-]{1,40}$' }, example: 'fulfilment' },
          { name: 'webhook-id', in: 'header', required: true, schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' } },
          { name: 'webhook-timestamp', in: 'header', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
          { name: 'webhook-signature', in: 'header', required: true, schema: { type: 'string' } },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { type: { type: 'string' }, data: { type: 'object', properties: { reference: { type: 'string' } } } } } } } },
        responses: { '200': json('WebhookAck', 'Recorded (signalled to its saga, or kept as a late event).'), ...problemResponses(['invalid-webhook-signature', 'invalid-webhook-payload', 'unknown-webhook-source', 'body-too-large', 'unsupported-media-type', 'rate-limited', 'event-not-recorded', 'internal']) },
      },
    },
    '/healthz': { get: { operationId: 'liveness', tags: ['operations'], summary: 'The process answers', responses: { '200': json('Health', 'Up.') } } },
    '/readyz': { get: { operationId: 'readiness', tags: ['operations'], summary: 'Temporal answers too', responses: { '200': json('Health', 'Ready.'), ...problemResponses(['not-ready']) } } },
    '/openapi.json': { get: { operationId: 'openapi', tags: ['operations'], summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
  };
  if (options.metrics) {
    paths['/metrics'] = {
      get: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics (unauthenticated: keep it on an internal address)',
        responses: { '200': { description: 'The Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    };
  }
  if (options.paymentsWebhook) {
    paths['/v1/webhooks/payments'] = {
      post: {
        operationId: 'receivePaymentWebhook',
        tags: ['webhooks'],
        summary: "The payment provider's event, Stripe-signed",
        description: 'Verified with `PAYMENTS_WEBHOOK_SECRETS` (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 over `timestamp.rawBody`); the timestamp must be within `WEBHOOK_TOLERANCE_S` either way. `data.object.metadata.reference` names our transaction.',
        parameters: [{ name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'string' }, type: { type: 'string' }, data: { type: 'object' } } } } } },
        responses: { '200': json('WebhookAck', 'Recorded.'), ...problemResponses(['invalid-webhook-signature', 'invalid-webhook-payload', 'body-too-large', 'unsupported-media-type', 'rate-limited', 'event-not-recorded', 'internal']) },
      },
    };
  }
  if (options.codec) {
    const codec = (operation: string) => ({
      post: {
        operationId: `codec${operation[0]!.toUpperCase()}${operation.slice(1)}`,
        tags: ['codec'],
        summary: `Temporal's remote codec protocol: ${operation} payloads (role \`support\`, bearer or the session cookie)`,
        security: [{ bearerAuth: [] }, { codecSession: [] }],
        requestBody: { required: true, content: { 'application/json': { schema: schemaRef('CodecRequest') } } },
        responses: { '200': json('CodecPayloads', `The ${operation}d payloads.`), ...problemResponses(['unauthenticated', 'forbidden', 'invalid-body', 'malformed-json', 'unsupported-media-type', 'body-too-large', 'payload-undecodable', 'internal']) },
      },
    });
    paths['/codec/decode'] = codec('decode');
    paths['/codec/encode'] = codec('encode');
    paths['/codec/session'] = {
      get: { operationId: 'codecSignInPage', tags: ['codec'], summary: 'The support sign-in page for the Web UI', responses: { '200': { description: 'HTML form', content: { 'text/html': { schema: { type: 'string' } } } } } },
      post: {
        operationId: 'codecSignIn',
        tags: ['codec'],
        summary: 'Turns a support token into the HttpOnly session cookie the Web UI sends to /codec',
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties: { token: { type: 'string' } }, required: ['token'] } } } },
        responses: { '200': { description: 'Signed in; `Set-Cookie: codec_session=…`', content: { 'text/plain': { schema: { type: 'string' } } } }, ...problemResponses(['unauthenticated', 'forbidden', 'body-too-large', 'internal']) },
      },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'saga-coordinator',
      version: '0.1.0',
      description:
        'Commerce transactions (orders, refunds) as Temporal sagas behind an idempotent edge. Every command carries `Idempotency-Key`; `Prefer: respond-async` answers 202 at once, otherwise the edge waits up to a bound. Every error is `application/problem+json` (RFC 9457). Every answer carries `X-Request-Id`; `/v1` answers carry `RateLimit` and `RateLimit-Policy`.',
    },
    servers: [{ url: '/' }],
    tags: [{ name: 'orders' }, { name: 'refunds' }, { name: 'support' }, { name: 'webhooks' }, { name: 'codec' }, { name: 'operations' }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT from the identity provider (JWKS, RS256/ES256) or, locally, `npm run token -- <customer>`; `exp` required. The subject is the customer; `roles: ["support"]` opens /v1/admin.' },
        codecSession: { type: 'apiKey', in: 'cookie', name: 'codec_session' },
      },
      parameters: {
        'Idempotency-Key': { name: 'Idempotency-Key', in: 'header', required: true, description: 'Names the request: a retry with the same key attaches to it (draft-ietf-httpapi-idempotency-key-header). A quoted form is accepted.', schema: { type: 'string', pattern: '^"?[\\x21-\\x7e]{1,255}"?$' }, example: 'order-1' },
        Prefer: { name: 'Prefer', in: 'header', required: false, description: 'RFC 7240: `respond-async` (202 at once) or `wait=N` (seconds, capped by the server).', schema: { type: 'string' }, examples: { async: { value: 'respond-async' }, wait: { value: 'wait=5' } } },
        workflowId: { name: 'workflowId', in: 'path', required: true, description: 'A transaction ID, e.g. `order:alice:order-1`.', schema: { type: 'string', pattern: '^(order|refund):' }, example: 'order:alice:order-1' },
      },
      headers: {
        'X-Request-Id': { description: 'The request ID (yours when well-formed, else generated); it travels with the saga and its logs.', required: true, schema: { type: 'string' } },
        Location: { description: 'The status resource of the transaction.', required: true, schema: { type: 'string' } },
        'Content-Location': { description: 'The status resource this representation is of.', schema: { type: 'string' } },
        'Retry-After': { description: 'Seconds to wait before polling or retrying.', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
        'Preference-Applied': { description: 'RFC 7240: the preference honoured (`respond-async`, `wait=N`).', schema: { type: 'string' } },
        'Idempotent-Replayed': { description: '`true` when this is the stored outcome of an earlier request with the same key.', schema: { type: 'string', enum: ['true'] } },
        'Idempotency-Key-Retention': { description: 'Seconds a settled transaction (and so its key) is remembered.', schema: { type: 'string', pattern: '^\\d+$' } },
        RateLimit: { description: 'IETF draft-ietf-httpapi-ratelimit-headers: remaining quota and reset of the policy that applied.', schema: { type: 'string' } },
        'RateLimit-Policy': { description: 'The limits that apply (`ip`, `customer-commands`, `customer-reads`, `webhook-source`).', schema: { type: 'string' } },
      },
      schemas: {
        IdempotencyKey: z.toJSONSchema(IdempotencyKey, { target: 'draft-2020-12' }) as Json,
        ...components('input', {
          PlaceOrder: { schema: PlaceOrder, description: `An order. Its total (Σ quantity × unitPrice) must be between ${formatMinorUnits(MIN_ORDER_TOTAL_MINOR)} and ${formatMinorUnits(MAX_ORDER_TOTAL_MINOR)}.`, examples: [ORDER_EXAMPLE] },
          RequestRefund: { schema: RequestRefund },
          AdminDecision: { schema: R.AdminDecision },
          AdminResetRequest: { schema: R.AdminResetRequest },
          CodecRequest: { schema: CodecRequest },
        }),
        ...components('output', {
          Problem: { schema: R.Problem, description: 'RFC 9457 problem details. `type` is one of `urn:saga-coordinator:problem:<slug>` (docs/problems.md).' },
          Accepted: { schema: R.Accepted },
          OrderStatusView: { schema: R.OrderStatusView },
          RefundStatusView: { schema: R.RefundStatusView },
          AdminStatusView: { schema: R.AdminStatusView },
          HistoryPage: { schema: R.HistoryPage },
          AdminTransactionList: { schema: R.AdminTransactionList },
          DecisionAccepted: { schema: R.DecisionAccepted },
          ResetAccepted: { schema: R.ResetAccepted },
          WebhookAck: { schema: R.WebhookAck },
          Health: { schema: R.Health },
          CodecPayloads: { schema: R.CodecPayloads },
        }),
      },
    },
  };
}

/** GET /openapi.json and the interactive docs at /docs (Swagger UI, its assets served from here: no CDN, helmet's CSP holds). */
export function openApiRoutes(document: Json): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json(document);
  });
  router.use('/docs', swaggerUi.serveFiles(undefined, { swaggerUrl: '/openapi.json' }), swaggerUi.setup(undefined, { swaggerUrl: '/openapi.json', customSiteTitle: 'saga-coordinator API' }));
  return router;
}

/** The path templates of the document as regular expressions, with the methods each allows. */
function pathMatchers(document: Json): { re: RegExp; allow: string[] }[] {
  const paths = (document as { paths: Record<string, Record<string, unknown>> }).paths;
  return Object.entries(paths).map(([template, operations]) => {
    const methods = Object.keys(operations).map((m) => m.toUpperCase());
    const re = new RegExp(`^${template.split('/').map((seg) => (/^\{\w+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}$`);
    return { re, allow: [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'] };
  });
}

/** After the routes: a known path asked with a method it does not serve is a 405 with `Allow` (RFC 9110), not a 404. */
export function methodNotAllowed(document: Json): RequestHandler {
  const matchers = pathMatchers(document);
  return (req, _res, next) => {
    const allow = matchers.find((m) => m.re.test(req.path))?.allow;
    if (!allow || allow.includes(req.method)) return next();
    throw new HttpProblem(405, 'method-not-allowed', 'Method not allowed', `${req.method} is not allowed on ${req.path}; allowed: ${allow.join(', ')}.`, {}, { Allow: allow.join(', ') });
  };
}

/**
 * OPTIONS on a known path answers `Allow` from the document (every router's methods, which
 * Express's own per-router answer misses). CORS preflights are left to the CORS middleware.
 */
export function answerOptions(document: Json): RequestHandler {
  const matchers = pathMatchers(document);
  return (req, res, next) => {
    if (req.method !== 'OPTIONS' || req.get('access-control-request-method')) return next();
    const allow = matchers.find((m) => m.re.test(req.path))?.allow;
    if (!allow) return next();
    res.setHeader('Allow', allow.join(', '));
    res.status(204).end();
  };
}
