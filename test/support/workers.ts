/** Runs in-process workers for the duration of a callback, then shuts them down and waits for them. */
import type { Worker } from '@temporalio/worker';

export async function withWorkers<T>(workers: Worker[], fn: () => Promise<T>): Promise<T> {
  const running = workers.map((w) => w.run());
  try {
    return await fn();
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.all(running);
  }
}

let counter = 0;
/** A task-queue prefix no other test (or test file) uses, so workers never pick up each other's tasks. */
export function uniquePrefix(label: string): string {
  counter += 1;
  return `t-${label}-${process.pid}-${counter}-${Date.now().toString(36)}/`;
}
