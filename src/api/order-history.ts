/**
 * The order-history read proxy (seed 000's first use case). Reads need no workflow: they go
 * straight to the legacy orders API through its own pooled client (breaker, short timeout).
 * Answers are cached per customer, not per URL, so one purge drops every page of a customer; a
 * stale copy is served, marked with its age, when the legacy service is down or its breaker open.
 * A customer's entry is purged when one of their sagas starts or settles: at once for commands
 * this process handles, and for all others (other replicas, operators) by watching Temporal's
 * visibility index, which every replica can read without extra infrastructure.
 */
import { LRUCache } from 'lru-cache';
import type { Client } from '@temporalio/client';
import { DownstreamUnavailable } from '../clients/errors';
import type { CallContext } from '../clients/http';
import type { LegacyEcommerceClient, LegacyOrderPage } from '../clients/legacy-ecommerce';
import { formatMinorUnits, searchAttributes } from '../contracts/order';
import type { Logger } from '../logger';

export interface HistoryPage {
  orders: { orderNumber: string; status: string; total: { amount: string; currency: string }; createdAt: string }[];
  page: number;
  pageSize: number;
  total: number;
  nextPage: number | null;
}

export type HistoryAnswer = { page: HistoryPage; source: 'origin' } | { page: HistoryPage; source: 'cache' | 'stale'; ageSeconds: number };

interface Entry {
  page: HistoryPage;
  /** When the call that fetched it started. */
  fetchedAt: number;
  /** The order of that start among fetches and purges (milliseconds can tie). */
  seq: number;
}

interface FetchContext {
  customerId: string;
  page: number;
  pageSize: number;
  call: CallContext;
}

export interface OrderHistoryOptions {
  legacy: LegacyEcommerceClient;
  ttlMs: number;
  /** How many history pages to keep (all customers together). */
  maxPages?: number;
  /** How long a stale copy may still be served when the legacy service is down. */
  maxStaleMs?: number;
}

export type OrderHistory = ReturnType<typeof createOrderHistory>;

/**
 * The cache is lru-cache's own fetch cache: concurrent misses for one page share one call to
 * legacy, and a failed refresh answers with the stale copy (allowStaleOnFetchRejection). A purge
 * does not drop a customer's pages: it marks them so that the next read must ask legacy, and if
 * legacy is down then, the copy from before the purge is still served, marked stale.
 */
export function createOrderHistory({ legacy, ttlMs, maxPages = 50_000, maxStaleMs = 24 * 3_600_000 }: OrderHistoryOptions) {
  let sequence = 0;
  const cache = new LRUCache<string, Entry, FetchContext>({
    max: maxPages,
    ttl: ttlMs,
    allowStaleOnFetchRejection: true,
    fetchMethod: async (_key, _stale, { context }) => {
      const { customerId, page, pageSize, call } = context;
      const started = { fetchedAt: Date.now(), seq: ++sequence }; // a purge after this makes the page due again
      return { page: toPage(await legacy.listOrders(customerId, { page, pageSize }, call), page, pageSize), ...started };
    },
  });
  /** The sequence number of each customer's last purge: a page fetched before it must be fetched again. */
  const purgedAt = new LRUCache<string, number>({ max: maxPages, ttl: maxStaleMs });

  async function read(customerId: string, page: number, pageSize: number, call: CallContext = {}): Promise<HistoryAnswer> {
    // Keys start with the customer (whose ID has no `|`), so a customer's pages are found by prefix.
    const key = `${customerId}|${page}/${pageSize}`;
    const purged = purgedAt.get(customerId) ?? -Infinity;
    const held = cache.peek(key, { allowStale: true });
    const status: LRUCache.Status<string, Entry, FetchContext> = {};
    const entry = await cache.fetch(key, { context: { customerId, page, pageSize, call }, forceRefresh: held !== undefined && held.seq < purged, status });
    const ageMs = entry ? Date.now() - entry.fetchedAt : Infinity;
    if (status.fetchRejected) {
      // Only an outage is answered from a stale copy; a refusal or a broken answer is not hidden.
      if (!entry || !(status.fetchError instanceof DownstreamUnavailable) || ageMs > maxStaleMs) throw status.fetchError;
      return { page: entry.page, source: 'stale', ageSeconds: Math.floor(ageMs / 1000) };
    }
    if (!entry) throw new Error('order history: fetch resolved without a page');
    if (status.fetch === 'hit') return { page: entry.page, source: 'cache', ageSeconds: Math.floor(ageMs / 1000) };
    return { page: entry.page, source: 'origin' };
  }

  return {
    read,
    purge: (customerId: string) => void purgedAt.set(customerId, ++sequence),
  };
}

function toPage(legacy: LegacyOrderPage, page: number, pageSize: number): HistoryPage {
  return {
    orders: legacy.orders.map((o) => ({ orderNumber: o.orderNumber, status: o.status, total: { amount: formatMinorUnits(o.totalMinor), currency: o.currency }, createdAt: o.createdAt })),
    page,
    pageSize,
    total: legacy.total,
    nextPage: legacy.nextPage,
  };
}

/**
 * Purges the cache for every customer whose saga started or closed since the last look, by
 * polling Temporal's visibility (CustomerId is a search attribute every saga carries). Returns a
 * stop function. The overlap of one interval covers visibility's own indexing lag.
 */
export function watchSagaChanges({ client, history, intervalMs, logger }: { client: Client; history: Pick<OrderHistory, 'purge'>; intervalMs: number; logger: Logger }): () => Promise<void> {
  let since = new Date(Date.now() - intervalMs);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const tick = async () => {
    const from = since;
    since = new Date();
    const t = new Date(from.getTime() - intervalMs).toISOString();
    try {
      const customers = new Set<string>();
      // Bounded, so that a Temporal outage delays purges instead of piling up calls.
      await client.withDeadline(Date.now() + Math.max(intervalMs, 5_000), async () => {
        for await (const wf of client.workflow.list({ query: `CustomerId IS NOT NULL AND (StartTime > "${t}" OR CloseTime > "${t}")` })) {
          const customer = wf.typedSearchAttributes.get(searchAttributes.customerId);
          if (customer) customers.add(customer);
        }
      });
      customers.forEach((c) => history.purge(c));
    } catch (err) {
      since = from; // look again from the same point next time
      logger.warn({ err }, 'order-history purge watch failed');
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), intervalMs);
  };
  timer = setTimeout(() => (running = tick()), intervalMs);
  /** Stops watching; resolves once a look in progress has finished (nothing is left calling Temporal). */
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
