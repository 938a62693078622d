/**
 * The invariant every support action must keep, read from the downstreams themselves (never from
 * our own state): for a transaction, across all its attempts, the customer holds access if and
 * only if they hold an unrefunded charge, and the legacy order agrees.
 */
import { attemptReference } from '../../src/contracts/transaction';
import type { Simulators } from './stack';

/** The simulators require the key of the run (see global-setup). */
const AUTH = { authorization: 'Bearer sk_test_current' };

export interface AttemptObjects {
  reference: string;
  charges: { id: string; status: string; refunded: boolean }[];
  enrollments: { id: string; status: string }[];
  orders: { order_number: string; status: string }[];
}

/** What the downstreams hold under each attempt's reference, attempts 1..`attempts`. */
export async function objectsOf(sims: Simulators, workflowId: string, attempts: number): Promise<AttemptObjects[]> {
  const get = async <T>(url: string): Promise<T> => (await (await fetch(url, { headers: AUTH })).json()) as T;
  const result: AttemptObjects[] = [];
  for (let n = 1; n <= attempts; n++) {
    const reference = attemptReference(workflowId, n);
    const q = encodeURIComponent(reference);
    const [charges, enrollments, orders] = await Promise.all([
      get<{ data: AttemptObjects['charges'] }>(`${sims.url('payments')}/v1/charges?reference=${q}`),
      get<{ results: AttemptObjects['enrollments'] }>(`${sims.url('fulfilment')}/enrollments?reference=${q}`),
      get<{ results: AttemptObjects['orders'] }>(`${sims.url('legacy')}/api/v2/orders?reference=${q}`),
    ]);
    result.push({ reference, charges: charges.data, enrollments: enrollments.results, orders: orders.results });
  }
  return result;
}

/**
 * Checks the invariant and returns a one-line summary per attempt (`held`/`none`), so a test can
 * also say which attempt holds the money. Throws with the evidence when it does not hold.
 */
export async function expectMoneyAndAccessInStep(sims: Simulators, workflowId: string, attempts: number): Promise<string[]> {
  const objects = await objectsOf(sims, workflowId, attempts);
  const summary = objects.map((o) => {
    const charged = o.charges.filter((c) => c.status === 'succeeded' && !c.refunded).length;
    const access = o.enrollments.filter((e) => e.status === 'active').length;
    const order = o.orders.map((x) => x.status).join(',') || 'none';
    const ok = charged === access && charged <= 1 && (charged === 1 ? order === 'CMP' : order === 'none' || order === 'CNL' || order === 'RFD');
    if (!ok) throw new Error(`money and access out of step for ${o.reference}: ${JSON.stringify(o)}`);
    return charged === 1 ? 'held' : 'none';
  });
  if (summary.filter((s) => s === 'held').length > 1) throw new Error(`${workflowId} holds more than one charge: ${JSON.stringify(objects)}`);
  return summary;
}
