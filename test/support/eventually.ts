/** Polls until `check` returns a value (not undefined) or the deadline passes; the poll for outcomes that arrive asynchronously. */
import { pollFor } from '../../scripts/lib/processes';

export function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  return pollFor(check, timeoutMs, 'the condition', intervalMs);
}
