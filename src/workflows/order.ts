/**
 * orderSaga: create the legacy order → charge (waiting for the payment webhook when the processor
 * answers `pending`) → grant access → complete the legacy order. When a
 * step fails for good, what was done is undone newest first (revoke, refund, cancel) and the
 * workflow fails with the business reason and the final step states in its details.
 */
import { ApplicationFailure, condition, patched, workflowInfo } from '@temporalio/workflow';
import type { OrderSagaInput, OrderStatus, PlacedOrder, SagaStatus, WebhookEvent } from '../contracts/order';
import { DEFAULT_PAYMENT_TIMEOUT_SECONDS, ORDER_COMPENSATIONS, ORDER_STEPS, PAYMENT_PROCESSOR_SOURCE, formatMinorUnits, toMinorUnits, totalMinorUnits } from '../contracts/order-protocol';
import { SETTLED_STATUSES, SKIPPED_BY_OPERATOR } from '../contracts/transaction-protocol';
import { activityProxies, fastOrQueued, localProxies } from './activity-options';
import { EPOCH_KEYS_PATCH, FAST_PATH_PATCH, Saga, lookUntilAnswered } from './saga';
import { runTransaction } from './transaction';

/** A retry or skip first checks the attempt's earlier steps still stand (workflows/saga.ts, checkEarlierSteps). */
const DECISIONS_CHECK_THE_ATTEMPT_PATCH = 'decisions-check-the-attempt-stands';

/** In a run a Temporal reset made, each forward step first checks the earlier steps still stand (workflows/saga.ts, `run`). */
const RESET_RUNS_LOOK_FIRST_PATCH = 'reset-runs-look-before-each-step';

/** At the webhook's timeout the processor is asked for the charge's outcome (before: the order gave up). */
const ASK_THE_PROCESSOR_PATCH = 'payment-timeout-asks-the-processor';

/** Payment events settle a charge only when the processor sent them about a charge (before: any source, any or no charge). */
const PROCESSOR_ONLY_PATCH = 'payment-events-from-processor-only';

/** A payment event's outcome is confirmed with the processor before the order acts on it (before: the event alone decided). */
const CONFIRM_EVENTS_PATCH = 'payment-events-confirmed-with-the-processor';

/** A step that finds its own object undone asks the legacy order whether the attempt had completed (before: it was undone, and placed again). */
const UNDONE_STEP_ASKS_THE_ORDER_PATCH = 'undone-step-asks-if-the-order-completed';

export async function orderSaga(input: OrderSagaInput): Promise<OrderStatus> {
  const { workflowId } = workflowInfo();
  const { forward: queued, compensation: undo } = activityProxies(input);
  const saga = new Saga(ORDER_STEPS, { workflowId, attempt: input.attempt, epochs: patched(EPOCH_KEYS_PATCH) });
  // The fast path is the edge's choice (FAST_PATH), fixed in the input so a replay takes the same path.
  const local = input.fastPath !== false && patched(FAST_PATH_PATCH) ? localProxies() : undefined;
  // A reset of an order that had completed (refunded since, or being refunded): every step adopts what
  // stands (a refunded charge, a revoked grant) and nothing is placed again. A refund is the customer's
  // decision, not an undo. Found by createOrder's stored answer, or by a look at the legacy order.
  let adopting: { completedBefore?: boolean } = {};
  const adoptIf = (completedBefore: boolean | undefined) => {
    if (!completedBefore) return;
    adopting = { completedBefore: true };
    saga.adopting = true;
  };
  // A run a Temporal reset made: its started event is the run it replaced.
  const resetRun = () => workflowInfo().runId !== workflowInfo().originalExecutionRunId;
  saga.checks = {
    // Before an operator's retry or skip moves the order on, its earlier steps' objects must still stand
    // (read only, by reference). Asked when such a decision comes, so decisions made before replay as they ran.
    asked: () => patched(DECISIONS_CHECK_THE_ATTEMPT_PATCH),
    // A run a reset made (its started event is the original run's) looks before every forward step past
    // the reset point: patched() is false while its copied history replays, true from where it runs anew.
    // Asked while replaying too, where it only reads the history: an offline replayer gives every run
    // the original run's ID, and must still find the looks where the history has them.
    beforeEachStep: () => (resetRun() || workflowInfo().unsafe.isReplaying) && patched(RESET_RUNS_LOOK_FIRST_PATCH),
    // A step under way at a reset point is not looked before; its own look may find its charge refunded
    // or its grant revoked. Whether that was an undo or the customer's refund, the legacy order says.
    completedBefore: async () => {
      if (!patched(UNDONE_STEP_ASKS_THE_ORDER_PATCH)) return false;
      const found = await lookUntilAnswered(() => queued.legacyEcommerce.checkOrder(common()));
      adoptIf(found?.completedBefore);
      return found?.completedBefore === true;
    },
    step: (name) => {
      const look = { ...common(), ...adopting };
      // A reset to after the first step learns here that the order had completed (its refund undid the rest).
      if (name === 'createOrder') return queued.legacyEcommerce.checkOrder(look).then((found) => (adoptIf(found.completedBefore), found));
      if (name === 'chargePayment') return queued.payments.checkCharge(look);
      if (name === 'grantAccess') return queued.fulfilment.checkAccess(look);
      return undefined;
    },
  };
  // Each forward call is counted while under way: a Cancel never abandons it (workflows/transaction.ts).
  const forward = {
    legacyEcommerce: {
      createOrder: saga.call(fastOrQueued(local?.createOrder, queued.legacyEcommerce.createOrder)),
      completeOrder: saga.call(fastOrQueued(local?.completeOrder, queued.legacyEcommerce.completeOrder)),
    },
    payments: { chargePayment: saga.call(fastOrQueued(local?.chargePayment, queued.payments.chargePayment)) },
    fulfilment: { grantAccess: saga.call(fastOrQueued(local?.grantAccess, queued.fulfilment.grantAccess)) },
  };
  // Read per call: a new attempt has a new reference.
  const common = () => ({ reference: saga.reference, requestId: input.requestId, region: input.region });
  const amountMinor = totalMinorUnits(input.order.items);
  const compensation = (step: keyof typeof ORDER_COMPENSATIONS, run: (idempotencyKey: string, again?: boolean) => Promise<unknown>) => ({ name: ORDER_COMPENSATIONS[step], run });
  // A run a Temporal reset made may be undoing what the run it replaced was undoing (its cancel may be on
  // its way: cancelOrder's `mayHaveBeenSent`), and its forward steps resend the keys the replaced run sent, which a downstream may have forgotten since
  // (a processor keeps them a day): each step of the attempt it revived looks its own object up by
  // reference first, and one found is its answer. (An activity input only: replay is unaffected.)
  const lookFirst = () => (resetRun() && saga.attempt === (input.attempt ?? 1) ? { lookFirst: true } : {});

  // An asynchronous payment's outcome arrives by the processor's webhook, possibly before the charge
  // call returns. It counts only for the charge this attempt made: an event naming another charge
  // (or one sent before any charge existed, or naming none, or from another source) is kept but
  // never pays for the order.
  type Outcome = { outcome: 'succeeded' | 'failed'; reason?: string; amend?: (effect: string) => void };
  let payment: Outcome | undefined;
  let chargeId: string | undefined;
  // While an event is checked with the processor, a newer one about the charge waits its turn (the
  // first may not be borne out, and the newer one is then the processor's word).
  let checking = false;
  let next: Outcome | undefined;
  const early = new Map<string, Outcome>();
  const onEvent = (event: WebhookEvent, status: SagaStatus, amend: (effect: string) => void): string => {
    if (event.type !== 'payment.succeeded' && event.type !== 'payment.failed') return 'recorded';
    // Only the processor knows whether money moved, and only about the charge it names: a partner's
    // event (or one naming no charge) is kept in the history but settles nothing. (Asked only for
    // such an event, so a history where one once counted still replays as it ran.)
    if ((event.source !== PAYMENT_PROCESSOR_SOURCE || event.objectId === undefined) && patched(PROCESSOR_ONLY_PATCH)) {
      return `ignored: only the payment processor's event about this order's charge settles it (this came from ${event.source}${event.objectId === undefined ? ', naming no charge' : ''})`;
    }
    if (SETTLED_STATUSES.includes(status)) return `ignored: the order is already ${status}`;
    if (status === 'compensating') return 'ignored: the order is being undone'; // no step waits for it any more
    if (event.reference !== undefined && event.reference !== saga.reference) return `ignored: it is about an earlier attempt (${event.reference})`;
    const outcome: Outcome = { outcome: event.type === 'payment.succeeded' ? 'succeeded' : 'failed', reason: event.reason, amend };
    if (checking && event.objectId === chargeId) {
      next?.amend?.('ignored: a newer event about the charge came while an earlier one was checked with the processor');
      next = outcome;
      return 'held: an earlier event about the charge is being checked with the processor';
    }
    if (payment) return `ignored: the payment already ${payment.outcome}`; // out of order: never un-charge
    if (event.objectId !== undefined && chargeId === undefined) {
      // Before the charge call answered: held until we know which charge is ours.
      if (!early.has(event.objectId)) early.set(event.objectId, outcome);
      return 'held: the charge call has not answered yet';
    }
    if (event.objectId !== undefined && event.objectId !== chargeId) return `ignored: it is about charge ${event.objectId}, not this order's ${chargeId}`;
    payment = outcome;
    return 'applied';
  };
  const paymentOutcome = async (id: string) => {
    chargeId = id;
    if (payment === undefined && early.has(id)) {
      payment = early.get(id);
      payment?.amend?.('applied'); // held until the charge call answered: this order's own charge
    }
    const seconds = input.paymentTimeoutSeconds ?? DEFAULT_PAYMENT_TIMEOUT_SECONDS;
    if (payment === undefined) saga.waiting();
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await condition(() => payment !== undefined, left))) {
        // No webhook in time. A lost webhook is not a failed payment: the processor itself is asked (read
        // only, by reference) before the order gives up. (Asked only at a timeout: histories that timed
        // out before replay as they ran.)
        const found = patched(ASK_THE_PROCESSOR_PATCH) ? await lookUntilAnswered(() => queued.payments.checkCharge({ ...common(), ...adopting })) : undefined;
        if (found?.chargeId === id && found.status === 'succeeded') payment = { outcome: 'succeeded' };
        else if (found?.chargeId === id && found.status === 'failed') payment = { outcome: 'failed', reason: `Charge ${id} failed (found at the processor; its webhook never came)` };
        // Still pending (or not to be found): the compensation finds the charge and cancels it.
        else throw ApplicationFailure.create({ type: 'PaymentTimedOut', message: `No outcome for charge ${id} within ${seconds} s`, nonRetryable: true });
        break;
      }
      // An event is the processor's word that the charge settled, but the charge as the processor holds
      // it is the truth (an event can disagree: stale, replayed, or about another amount): asked before
      // anything is granted or undone. (Asked only then: histories from before replay as they ran.)
      if (!patched(CONFIRM_EVENTS_PATCH)) break;
      const said = payment!;
      // A charge cancelled since (an undo a reset revived the run past) ends this attempt, as a step's look
      // would; a refunded one did succeed (whether the order stands is the next step's look to say).
      checking = true;
      const found = await lookUntilAnswered(() => queued.payments.checkCharge({ ...common(), completedBefore: true }), { undoneThrows: true }).finally(() => void (checking = false));
      if (found?.chargeId === id && (found.status === 'succeeded' || found.status === 'failed')) {
        if (found.status !== said.outcome) said.amend?.(`ignored: the processor holds charge ${id} as ${found.status}`);
        payment = found.status === 'succeeded' ? { outcome: 'succeeded' } : { outcome: 'failed', reason: said.outcome === 'failed' ? said.reason : `Charge ${id} failed (found at the processor)` };
        next?.amend?.(`ignored: the payment already ${payment.outcome}`);
        next = undefined;
        break;
      }
      // Not settled at the processor (still pending, or not to be found): the event settles nothing; a
      // newer one that came meanwhile is checked next, or the order waits on.
      said.amend?.(`ignored: the processor holds charge ${id} as ${found?.status ?? 'unknown (it could not be asked)'}`);
      payment = next;
      next = undefined;
      if (payment === undefined) saga.waiting();
    }
    if (payment!.outcome === 'failed') {
      throw ApplicationFailure.create({ type: 'PaymentDeclined', message: payment!.reason ?? `Charge ${id} failed`, nonRetryable: true });
    }
  };

  return runTransaction(input, saga, async (): Promise<{ order: PlacedOrder }> => {
    const attempt = saga.attempt;
    if (attempt > (input.attempt ?? 1)) {
      // A new attempt waits for its own charge's outcome, and adopts only what it finds of its own.
      payment = undefined;
      chargeId = undefined;
      next = undefined;
      early.clear();
      adopting = {};
      saga.adopting = false;
    }
    const created = await saga.run(
      'createOrder',
      (idempotencyKey) =>
        forward.legacyEcommerce.createOrder({
          ...common(),
          ...lookFirst(),
          idempotencyKey,
          customerId: input.customerId,
          currency: input.order.currency,
          lines: input.order.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceMinor: toMinorUnits(i.unitPrice) })),
        }),
      { compensation: compensation('createOrder', (idempotencyKey, again) => undo.legacyEcommerce.cancelOrder({ ...common(), idempotencyKey, ...(again || resetRun() ? { mayHaveBeenSent: true } : {}) })) },
    );
    adoptIf(created.completedBefore);
    const charge = await saga.run(
      'chargePayment',
      async (idempotencyKey) => {
        const result = await forward.payments.chargePayment({ ...common(), ...adopting, ...lookFirst(), idempotencyKey, amountMinor, currency: input.order.currency, token: input.order.paymentMethod.token });
        // Events held until the charge was known say now what became of them (their records said "held").
        for (const [about, held] of early) {
          if (about !== result.chargeId) held.amend?.(`ignored: it is about charge ${about}, not this order's ${result.chargeId}`);
          else if (result.status === 'succeeded') held.amend?.('ignored: the charge call itself answered that the charge succeeded');
        }
        if (result.status === 'succeeded') {
          chargeId = result.chargeId;
          payment ??= { outcome: 'succeeded' };
        } else await paymentOutcome(result.chargeId);
        return result;
      },
      { compensation: compensation('chargePayment', (idempotencyKey) => undo.payments.refundPayment({ ...common(), idempotencyKey })) },
    );
    const access = await saga.run(
      'grantAccess',
      (idempotencyKey) => forward.fulfilment.grantAccess({ ...common(), ...adopting, ...lookFirst(), idempotencyKey, customerId: input.customerId, skus: input.order.items.map((i) => i.sku) }),
      {
        compensation: compensation('grantAccess', (idempotencyKey) => undo.fulfilment.revokeAccess({ ...common(), idempotencyKey })),
        // Money has moved: an operator decides (retry the grant, skip it as granted by hand, or abort and refund).
        park: { skipped: () => ({ enrollmentId: SKIPPED_BY_OPERATOR }) },
      },
    );
    // A reset adopting support's earlier skip (granted by hand): the step is the operator's, as it was.
    if (access.enrollmentId === SKIPPED_BY_OPERATOR) saga.markSkipped('grantAccess');
    await saga.run('completeOrder', (idempotencyKey) => forward.legacyEcommerce.completeOrder({ ...common(), ...adopting, idempotencyKey, orderNumber: created.orderNumber }), {
      park: { skipped: () => ({ status: 'skipped' }) },
    });

    return {
      order: {
        orderNumber: created.orderNumber,
        chargeId: charge.chargeId,
        enrollmentId: access.enrollmentId,
        total: { amount: formatMinorUnits(amountMinor), currency: input.order.currency },
        reference: saga.reference,
      },
    };
  }, { onEvent }) as Promise<OrderStatus>;
}
