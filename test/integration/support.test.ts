/**
 * Support operations through the admin API: find parked transactions, decide on them (recorded
 * with who decided), and reset ("replay") a transaction that already charged without charging twice.
 */
import { orderWorkflowId } from '../../src/contracts/order';
import { eventually } from '../support/eventually';
import { ORDER_BODY, getOrder, json, newCustomer, postOrder, startStack, type Json, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function admin(path: string, init: RequestInit & { as?: string; roles?: string[] } = {}) {
  const token = await stack.token(init.as ?? 'ann-support', init.roles ?? ['support']);
  return fetch(`${stack.url}/v1/admin${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

const RETIRED = { ...ORDER_BODY, items: [{ sku: 'course-v1:Retired+2020', quantity: 1, unitPrice: '49.00' }] };

test('"charged but never got access": support finds the parked order, and an abort with a reason refunds it', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'no-access');
  expect((await postOrder(stack, customer, 'no-access', RETIRED, { prefer: 'respond-async' })).status).toBe(202);

  const listed = await eventually(async () => {
    const body = await json(await admin(`/transactions?status=needs_attention&customerId=${customer}`));
    return body.items.length === 1 ? body.items[0] : undefined;
  });
  expect(listed).toMatchObject({ transactionId: id, customerId: customer, orderKey: 'no-access', sagaStatus: 'needs_attention', failedStep: 'grantAccess' });
  const detail = await json(await admin(`/transactions/${encodeURIComponent(id)}`));
  expect(detail.customerId).toBe(customer);
  expect(detail.parked).toMatchObject({ step: 'grantAccess', kind: 'step', error: { type: 'AccessRejected' } });
  expect((await json(await getOrder(stack, customer, 'no-access'))).status).toBe('needs_attention');

  expect((await admin('/transactions', { roles: [] })).status).toBe(403);
  const noReason = await admin(`/transactions/${encodeURIComponent(id)}/decisions`, { method: 'POST', body: JSON.stringify({ action: 'abort' }) });
  expect(noReason.status).toBe(422);
  expect(await json(noReason)).toMatchObject({ type: 'urn:saga-coordinator:problem:decision-rejected', reason: 'ReasonRequired' });

  const decided = await admin(`/transactions/${encodeURIComponent(id)}/decisions`, { method: 'POST', body: JSON.stringify({ action: 'abort', reason: 'course retired; refund agreed with the customer' }) });
  expect(decided.status).toBe(200);
  expect(await json(decided)).toMatchObject({ accepted: true, step: 'grantAccess', action: 'abort', operator: 'ann-support' });

  const done: Json = await eventually(async () => {
    const body = await json(await getOrder(stack, customer, 'no-access'));
    return body.status === 'compensated' ? body : undefined;
  });
  expect(done.decisions).toEqual([expect.objectContaining({ action: 'abort', operator: 'ann-support', step: 'grantAccess' })]);
  expect((await stack.sims.ledger('payments', id)).map((e) => e.op)).toEqual(['charge', 'refund']);
  const again = await admin(`/transactions/${encodeURIComponent(id)}/decisions`, { method: 'POST', body: JSON.stringify({ action: 'retry' }) });
  expect(again.status).toBe(404); // it has finished: nothing to decide
});

test('resetting a transaction that already charged replays every step with the same keys: nothing happens twice', async () => {
  const customer = newCustomer();
  const id = orderWorkflowId(customer, 'replayed');
  expect((await postOrder(stack, customer, 'replayed')).status).toBe(201);
  const before = await Promise.all((['legacy', 'payments', 'fulfilment'] as const).map((s) => stack.sims.ledger(s, id)));
  const firstRun = (await stack.client.workflow.getHandle(id).describe()).runId;

  const reset = await admin(`/transactions/${encodeURIComponent(id)}/reset`, { method: 'POST', body: JSON.stringify({ reason: 'replaying after a downstream fix' }) });
  expect(reset.status).toBe(202);
  const { runId } = await json(reset);
  expect(runId).not.toBe(firstRun);
  const rerun = await stack.client.workflow.getHandle(id, runId).result();
  expect(rerun).toMatchObject({ status: 'completed' });
  // Support sees the whole transaction, its result included.
  expect(await json(await admin(`/transactions/${encodeURIComponent(id)}`))).toMatchObject({ status: 'completed', order: { total: { amount: '49.00' } } });

  const after = await Promise.all((['legacy', 'payments', 'fulfilment'] as const).map((s) => stack.sims.ledger(s, id)));
  expect(after).toEqual(before);
  expect(after[1]!.map((e) => e.op)).toEqual(['charge']);
});
