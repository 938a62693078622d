/**
 * The chaos suite's checker, fed ledgers with planted violations: each must be reported with the
 * transaction it belongs to, and a clean ledger (in either downstream key format) must pass.
 */
import { check, parseDownstreamKey, parseReference, type Observations, type Violation, type WorkflowFact } from '../../scripts/lib/chaos/checker';

const W = 'order:alice:k1';

function workflow(workflowId: string, status = 'COMPLETED', more: Partial<WorkflowFact> = {}): WorkflowFact {
  return { workflowId, type: workflowId.startsWith('refund:') ? 'refundSaga' : 'orderSaga', status, sagaStatus: status === 'COMPLETED' ? 'completed' : undefined, signalledEventIds: [], openRetry: false, ...more };
}

/** One completed order, as the ledgers show it when all went well; `epochs` adds the coming `/<epoch>` key suffix. */
function completedOrder(workflowId = W, { epochs = false, reference = workflowId } = {}): Observations {
  const key = (step: string) => `${workflowId}/${step}${epochs ? '/1' : ''}`;
  return {
    ledger: [
      { service: 'legacy', op: 'create', idempotencyKey: key('createOrder'), ref: 'EC-1001', at: '' },
      { service: 'payments', op: 'charge', idempotencyKey: key('chargePayment'), ref: 'ch_1', at: '' },
      { service: 'fulfilment', op: 'grant', idempotencyKey: key('grantAccess'), ref: 'enr_1', at: '' },
      { service: 'legacy', op: 'complete', idempotencyKey: key('completeOrder'), ref: 'EC-1001', at: '' },
    ],
    state: {
      orders: [{ order_number: 'EC-1001', reference, status: 'CMP', total_cents: '4900' }],
      charges: [{ id: 'ch_1', amount: 4900, status: 'succeeded', refunded: false, metadata: { reference } }],
      refunds: [],
      enrollments: [{ id: 'enr_1', reference, status: 'active' }],
    },
    workflows: [workflow(workflowId)],
    requests: [{ kind: 'order', workflowId, body: 'original', answers: [{ status: 201 }] }],
    otherCalls: [],
    forged: [],
  };
}

const kinds = (violations: Violation[]) => violations.map((v) => v.kind).sort();

test('a clean completed order passes, in both downstream key formats and for a replayed attempt', () => {
  expect(check(completedOrder()).violations).toEqual([]);
  expect(check(completedOrder(W, { epochs: true })).violations).toEqual([]);
  expect(check(completedOrder(W, { epochs: true, reference: `${W}#2` })).violations).toEqual([]);
  expect(check(completedOrder()).outcomes.completed).toBe(1);
});

test('keys and references parse in both formats', () => {
  expect(parseDownstreamKey('order:a:k/chargePayment')).toEqual({ transaction: 'order:a:k', step: 'chargePayment', epoch: '1', sub: '' });
  expect(parseDownstreamKey('order:a:k/refundPayment/1.2/cancel')).toEqual({ transaction: 'order:a:k', step: 'refundPayment', epoch: '1.2', sub: 'cancel' });
  expect(parseDownstreamKey('order:a:k/refundPayment/cancel')).toEqual({ transaction: 'order:a:k', step: 'refundPayment', epoch: '1', sub: 'cancel' });
  expect(parseReference('order:a:k#3')).toEqual({ workflowId: 'order:a:k', attempt: 3 });
  expect(parseReference('order:a:k')).toEqual({ workflowId: 'order:a:k', attempt: 1 });
});

test('a planted double charge is reported: two charges for one reference, two charge effects in one epoch', () => {
  const obs = completedOrder(W, { epochs: true });
  obs.ledger.push({ service: 'payments', op: 'charge', idempotencyKey: `${W}/chargePayment/1`, ref: 'ch_2', at: '' });
  obs.state.charges.push({ id: 'ch_2', amount: 4900, status: 'succeeded', refunded: false, metadata: { reference: W } });
  const { violations } = check(obs);
  expect(kinds(violations)).toEqual(['double-charge', 'doubled-effect']);
  expect(violations.every((v) => v.workflowId === W)).toBe(true);
  expect(violations.find((v) => v.kind === 'double-charge')!.detail).toMatch(/2 charges .*ch_1.*ch_2/);
});

test('a new epoch is a new attempt (an operator decision), not a double', () => {
  const obs = completedOrder(W, { epochs: true });
  // Epoch 1 charged and was refunded by compensation; the operator's replay (epoch 2, reference #2) charged again.
  obs.ledger.push({ service: 'payments', op: 'charge', idempotencyKey: `${W}/chargePayment/2`, ref: 'ch_2', at: '' });
  obs.state.charges[0]!.refunded = true;
  obs.state.refunds.push({ id: 're_1', charge: 'ch_1', amount: 4900 });
  obs.state.enrollments[0]!.status = 'revoked';
  obs.state.orders[0]!.status = 'CNL';
  obs.state.orders.push({ order_number: 'EC-1002', reference: `${W}#2`, status: 'CMP', total_cents: '4900' });
  obs.state.charges.push({ id: 'ch_2', amount: 4900, status: 'succeeded', refunded: false, metadata: { reference: `${W}#2` } });
  obs.state.enrollments.push({ id: 'enr_2', reference: `${W}#2`, status: 'active' });
  expect(check(obs).violations).toEqual([]);
});

test('a planted stuck transaction is reported; one waiting for a retry or an operator is not', () => {
  const obs = completedOrder();
  obs.workflows.push(workflow('order:bob:k2', 'RUNNING', { sagaStatus: 'running' }));
  obs.workflows.push(workflow('order:bob:k3', 'RUNNING', { sagaStatus: 'running', openRetry: true }));
  obs.workflows.push(workflow('order:bob:k4', 'RUNNING', { sagaStatus: 'needs_attention' }));
  // Webhook events held for a saga that has not started: a bounded hold on its own timer, no transaction.
  obs.workflows.push({ ...workflow('webhook-held:order:bob:k9', 'RUNNING'), type: 'heldWebhookEvents' });
  obs.requests.push(...['k2', 'k3', 'k4'].map((k) => ({ kind: 'order' as const, workflowId: `order:bob:${k}`, body: 'original' as const, answers: [{ status: 202 }] })));
  const verdict = check(obs);
  expect(verdict.violations).toEqual([{ kind: 'stuck', workflowId: 'order:bob:k2', detail: expect.stringMatching(/still running/) }]);
  expect(verdict.outcomes).toMatchObject({ completed: 1, stuck: 1, retrying: 1, parked: 1 });
});

test('planted access without payment is reported, and the legacy order out of step with it', () => {
  const obs = completedOrder();
  obs.state.charges[0]!.status = 'canceled'; // e.g. a forged payment.succeeded let an unpaid async order through
  const { violations } = check(obs);
  expect(kinds(violations)).toEqual(['access-without-payment', 'legacy-order-out-of-step', 'outcome-out-of-step']);
  expect(violations[0]).toMatchObject({ kind: 'access-without-payment', workflowId: W });
});

test('payment kept after compensation, and a refund larger than its charge, are reported', () => {
  const obs = completedOrder();
  obs.workflows = [workflow(W, 'FAILED', { sagaStatus: 'compensated' })];
  obs.requests[0]!.answers = [{ status: 422, problem: 'transaction-failed' }];
  obs.state.enrollments[0]!.status = 'revoked';
  obs.state.orders[0]!.status = 'CNL';
  obs.state.refunds.push({ id: 're_1', charge: 'ch_1', amount: 9800 });
  expect(kinds(check(obs).violations)).toEqual(['outcome-out-of-step', 'payment-without-access', 'refund-exceeds-charge']);
});

test('a forged webhook that was accepted or reached a workflow is reported', () => {
  const obs = completedOrder();
  obs.forged.push({ eventId: 'evt_forged1', workflowId: W, answer: { status: 400 } }, { eventId: 'evt_forged2', workflowId: W, answer: { status: 200 } });
  obs.workflows[0]!.signalledEventIds = ['evt_real', 'evt_forged1'];
  const { violations } = check(obs);
  expect(violations).toEqual([
    { kind: 'forged-webhook-effect', workflowId: W, detail: expect.stringMatching(/evt_forged1/) },
    { kind: 'forged-webhook-accepted', workflowId: W, detail: expect.stringMatching(/evt_forged2 was answered 200/) },
  ]);
});

test('a 5xx without Retry-After, a 2xx for work Temporal never recorded, and an accepted key reuse are reported', () => {
  const obs = completedOrder();
  obs.requests[0]!.answers.unshift({ status: 503, problem: 'temporal-unavailable' }, { status: 503, retryAfter: '1' });
  obs.requests.push({ kind: 'order', workflowId: 'order:alice:ghost', body: 'original', answers: [{ status: 'network-error' }, { status: 202 }] });
  obs.requests.push({ kind: 'order', workflowId: W, body: 'altered', answers: [{ status: 202 }] });
  obs.otherCalls.push({ what: 'status lookup', workflowId: W, answers: [{ status: 500 }] });
  const { violations } = check(obs);
  expect(kinds(violations)).toEqual(['2xx-for-unrecorded-work', '5xx-without-retry-after', '5xx-without-retry-after', 'key-reuse-accepted']);
  expect(violations.find((v) => v.kind === '2xx-for-unrecorded-work')!.workflowId).toBe('order:alice:ghost');
});

test('another body under the same key may win only when it reached Temporal first', () => {
  const obs = completedOrder();
  // The original's first tries were lost; the altered body arrived first and is the request.
  obs.requests[0]!.answers = [{ status: 'network-error' }, { status: 422, problem: 'idempotency-key-reused' }];
  obs.requests.push({ kind: 'order', workflowId: W, body: 'altered', answers: [{ status: 201 }] });
  expect(check(obs).violations).toEqual([]);
});

test('an answer that contradicts the saga outcome is reported', () => {
  const obs = completedOrder();
  obs.requests[0]!.answers = [{ status: 422, problem: 'transaction-failed' }];
  expect(check(obs).violations).toEqual([{ kind: 'answer-contradicts-outcome', workflowId: W, detail: expect.stringMatching(/422/) }]);
});

test('an outcome support changed after the answer (a replay of a compensated order, a reset) is no contradiction; answers after it, and money and access, are still judged', () => {
  const obs = completedOrder(W, { epochs: true, reference: `${W}#2` });
  obs.requests[0]!.answers = [{ status: 422, problem: 'transaction-failed' }];
  // Nothing support did changed this one's outcome (a refused decision is not recorded as a change): judged.
  expect(kinds(check(obs).violations)).toEqual(['answer-contradicts-outcome']);
  expect(check({ ...obs, outcomeChangedAt: { [W]: 1 } }).violations).toEqual([]);
  // The same answer given after support's change contradicts the outcome.
  expect(kinds(check({ ...obs, outcomeChangedAt: { [W]: 0 } }).violations)).toEqual(['answer-contradicts-outcome']);
  obs.state.enrollments = [];
  expect(kinds(check({ ...obs, outcomeChangedAt: { [W]: 1 } }).violations)).toEqual(['legacy-order-out-of-step', 'outcome-out-of-step', 'payment-without-access']);
});

test('a request Temporal never recorded counts as never received, not as a violation', () => {
  const obs = completedOrder();
  obs.requests.push({ kind: 'order', workflowId: 'order:alice:lost', body: 'original', answers: [{ status: 'network-error' }] });
  const verdict = check(obs);
  expect(verdict.violations).toEqual([]);
  expect(verdict.outcomes['never-received']).toBe(1);
});
