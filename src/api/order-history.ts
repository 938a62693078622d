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
  pages: Map<string, { page: HistoryPage; fetchedAt: number }>;
}

export interface OrderHistoryOptions {
  legacy: LegacyEcommerceClient;
  ttlMs: number;
  /** How many customers' histories to keep. */
  maxCustomers?: number;
  /** How long a stale copy may still be served when the legacy service is down. */
  maxStaleMs?: number;
}

export type OrderHistory = ReturnType<typeof createOrderHistory>;

export function createOrderHistory({ legacy, ttlMs, maxCustomers = 10_000, maxStaleMs = 24 * 3_600_000 }: OrderHistoryOptions) {
  const cache = new LRUCache<string, Entry>({ max: maxCustomers, ttl: maxStaleMs });

  async function read(customerId: string, page: number, pageSize: number, call: CallContext = {}): Promise<HistoryAnswer> {
    const pageKey = `${page}/${pageSize}`;
    const cached = cache.get(customerId)?.pages.get(pageKey);
    const age = cached ? Date.now() - cached.fetchedAt : Infinity;
    if (cached && age < ttlMs) return { page: cached.page, source: 'cache', ageSeconds: Math.floor(age / 1000) };
    try {
      const fresh = toPage(await legacy.listOrders(customerId, { page, pageSize }, call), page, pageSize);
      const entry = cache.get(customerId) ?? { pages: new Map() };
      entry.pages.set(pageKey, { page: fresh, fetchedAt: Date.now() });
      cache.set(customerId, entry);
      return { page: fresh, source: 'origin' };
    } catch (err) {
      if (cached && err instanceof DownstreamUnavailable) return { page: cached.page, source: 'stale', ageSeconds: Math.floor(age / 1000) };
      throw err;
    }
  }

  return {
    read,
    purge: (customerId: string) => void cache.delete(customerId),
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
