/** The edge's header semantics and request fingerprints, and the contracts' money and naming rules. */
import type { Request } from 'express';
import { fingerprint, idempotencyKeyOf, preferencesOf } from '../../src/api/http-semantics';
import { HttpProblem } from '../../src/api/problem';
import { retryAfterMs } from '../../src/clients/http';
import { MAX_ORDER_TOTAL_MINOR, Money, PlaceOrder, formatMinorUnits, orderWorkflowId, totalMinorUnits } from '../../src/contracts/order';

const request = (headers: Record<string, string>) => ({ headers, get: (name: string) => headers[name.toLowerCase()] }) as unknown as Request;

test('Prefer: respond-async and wait=N are read case-insensitively, with parameters and other preferences ignored', () => {
  expect(preferencesOf(request({ prefer: 'respond-async, wait=7' }))).toEqual({ respondAsync: true, waitSeconds: 7 });
  expect(preferencesOf(request({ prefer: 'Wait=3;foo=bar, handling=lenient' }))).toEqual({ respondAsync: false, waitSeconds: 3 });
  expect(preferencesOf(request({ prefer: 'wait=soon' }))).toEqual({ respondAsync: false });
  expect(preferencesOf(request({}))).toEqual({ respondAsync: false });
});

test('Idempotency-Key accepts a token or a structured-field string, and rejects empty, long or non-ASCII keys', () => {
  expect(idempotencyKeyOf(request({ 'idempotency-key': 'abc-123' }))).toBe('abc-123');
  expect(idempotencyKeyOf(request({ 'idempotency-key': '"8e03978e-40d5"' }))).toBe('8e03978e-40d5');
  const slugOf = (headers: Record<string, string>) => {
    try {
      idempotencyKeyOf(request(headers));
    } catch (err) {
      return (err as HttpProblem).slug;
    }
  };
  expect(slugOf({})).toBe('idempotency-key-missing');
  expect(slugOf({ 'idempotency-key': '' })).toBe('idempotency-key-invalid');
  expect(slugOf({ 'idempotency-key': 'x'.repeat(256) })).toBe('idempotency-key-invalid');
  expect(slugOf({ 'idempotency-key': 'clé' })).toBe('idempotency-key-invalid');
  expect(idempotencyKeyOf(request({ 'idempotency-key': 'x'.repeat(255) }))).toHaveLength(255);
});

test('the fingerprint ignores key order but not values', () => {
  expect(fingerprint({ a: 1, b: [{ c: 2, d: 3 }] })).toBe(fingerprint({ b: [{ d: 3, c: 2 }], a: 1 }));
  expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  expect(fingerprint({ a: [1, 2] })).not.toBe(fingerprint({ a: [2, 1] }));
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  expect(retryAfterMs('7')).toBe(7000);
  expect(retryAfterMs('Sun, 22 Nov 2026 08:00:10 GMT', Date.parse('2026-11-22T08:00:00Z'))).toBe(10_000);
  expect(retryAfterMs('soon')).toBeUndefined();
  expect(retryAfterMs(undefined)).toBeUndefined();
});

test('money is summed in minor units without floating-point error', () => {
  expect(totalMinorUnits([{ sku: 'a', quantity: 3, unitPrice: '0.1' }, { sku: 'b', quantity: 1, unitPrice: '0.2' }])).toBe(50);
  expect(totalMinorUnits([{ sku: 'a', quantity: 2, unitPrice: '24.5' }])).toBe(4900);
  expect(formatMinorUnits(4905)).toBe('49.05');
});

test('workflow IDs cannot collide through the separator', () => {
  expect(orderWorkflowId('a:b', 'c')).not.toBe(orderWorkflowId('a', 'b:c'));
  expect(orderWorkflowId('alice', 'order-1')).toBe('order:alice:order-1');
});

test('an order total is bounded by what our own Money holds, and must be at least one minor unit', () => {
  const order = (quantity: number, unitPrice: string) => ({ items: [{ sku: 'a', quantity, unitPrice }], currency: 'USD', paymentMethod: { token: 'tok_visa' } });
  expect(PlaceOrder.safeParse(order(1, '0.01')).success).toBe(true);
  expect(PlaceOrder.safeParse(order(1, '9999999.99')).success).toBe(true);
  expect(PlaceOrder.safeParse(order(2, '5000000.00')).success).toBe(false);
  expect(PlaceOrder.safeParse(order(93, '5284555.47')).error?.issues).toEqual([expect.objectContaining({ path: ['items'] })]);
  expect(PlaceOrder.safeParse(order(3, '0.00')).success).toBe(false);
  // Whatever the edge accepts, the saga's result can state: the largest total still matches Money.
  expect(Money.safeParse(formatMinorUnits(MAX_ORDER_TOTAL_MINOR)).success).toBe(true);
  expect(Money.safeParse(formatMinorUnits(MAX_ORDER_TOTAL_MINOR + 1)).success).toBe(false);
});
