/**
 * The order-history cache (lru-cache's fetch cache) with a scripted legacy client: the cache is
 * the thing under test here; test/integration/order-history.test.ts runs it against the simulator.
 */
import { createOrderHistory } from '../../src/api/order-history';
import { DownstreamRejected, DownstreamUnavailable } from '../../src/clients/errors';
import type { LegacyEcommerceClient, LegacyOrderPage } from '../../src/clients/legacy-ecommerce';

/** A legacy service whose answers the test releases one by one; `down` makes every call fail. */
function scriptedLegacy() {
  const calls: { customerId: string; release: (orders: number) => void; fail: (err: Error) => void }[] = [];
  const legacy = {
    listOrders: (customerId: string) =>
      new Promise<LegacyOrderPage>((resolve, reject) => {
        calls.push({
          customerId,
          release: (n) =>
            resolve({
              total: n,
              nextPage: null,
              orders: Array.from({ length: n }, (_, i) => ({ orderNumber: `L-${i}`, customerId, reference: `order:${customerId}:${i}`, status: 'completed', currency: 'USD', totalMinor: 4900, createdAt: '2026-11-28T10:00:00Z' })) as LegacyOrderPage['orders'],
            }),
          fail: reject,
        });
      }),
  } as unknown as LegacyEcommerceClient;
  /** Waits until the nth call (1-based) has been made. */
  const call = async (n: number) => {
    for (let i = 0; i < 100 && calls.length < n; i++) await new Promise((r) => setImmediate(r));
    if (calls.length < n) throw new Error(`expected call ${n}, got ${calls.length}`);
    return calls[n - 1]!;
  };
  return { legacy, calls, call };
}

test('concurrent misses for one page share one call to legacy', async () => {
  const { legacy, calls, call } = scriptedLegacy();
  const history = createOrderHistory({ legacy, ttlMs: 60_000 });
  const reads = Array.from({ length: 5 }, () => history.read('alice', 1, 20));
  (await call(1)).release(2);
  const answers = await Promise.all(reads);
  expect(calls).toHaveLength(1);
  for (const a of answers) expect(a).toMatchObject({ source: 'origin', page: { total: 2 } });
  // Fresh: the next read is a hit, still one call.
  expect(await history.read('alice', 1, 20)).toMatchObject({ source: 'cache', page: { total: 2 } });
  expect(calls).toHaveLength(1);
});

test('a purge makes the next read ask legacy; if legacy is down then, the copy from before the purge is served stale', async () => {
  const { legacy, calls, call } = scriptedLegacy();
  const history = createOrderHistory({ legacy, ttlMs: 60_000 });
  const first = history.read('bob', 1, 20);
  (await call(1)).release(1);
  expect(await first).toMatchObject({ source: 'origin', page: { total: 1 } });

  history.purge('bob');
  const afterPurge = history.read('bob', 1, 20);
  (await call(2)).fail(new DownstreamUnavailable('legacy-ecommerce', 'connect ECONNREFUSED'));
  expect(await afterPurge).toMatchObject({ source: 'stale', page: { total: 1 } });

  // Once legacy answers again, the purge still applies: the next read refreshes.
  const healed = history.read('bob', 1, 20);
  (await call(3)).release(3);
  expect(await healed).toMatchObject({ source: 'origin', page: { total: 3 } });
  expect(await history.read('bob', 1, 20)).toMatchObject({ source: 'cache', page: { total: 3 } });
  expect(calls).toHaveLength(3);
  // Another customer's purge leaves bob's fresh copy alone.
  history.purge('carol');
  expect(await history.read('bob', 1, 20)).toMatchObject({ source: 'cache' });
});

test('with nothing cached an outage is the error; a refusal is never hidden behind a stale copy', async () => {
  const { legacy, call } = scriptedLegacy();
  const history = createOrderHistory({ legacy, ttlMs: 60_000 });
  const cold = history.read('dave', 1, 20);
  (await call(1)).fail(new DownstreamUnavailable('legacy-ecommerce', 'timeout'));
  await expect(cold).rejects.toBeInstanceOf(DownstreamUnavailable);

  const warm = history.read('dave', 1, 20);
  (await call(2)).release(1);
  await warm;
  history.purge('dave');
  const refused = history.read('dave', 1, 20);
  (await call(3)).fail(new DownstreamRejected('legacy-ecommerce', 403, 'FORBIDDEN', 'no'));
  await expect(refused).rejects.toBeInstanceOf(DownstreamRejected);
});
