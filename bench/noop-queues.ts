/** The task queues of the bench's no-op workflows (bench/noop-workflows.ts), next to a product prefix. */
export function noopQueues(prefix: string) {
  return { workflows: `${prefix}noop`, steps: [1, 2, 3, 4].map((i) => `${prefix}noop-${i}`) };
}

/** The bare saga's task queue (bench/noop-workflows.ts: the direct chain's calls as local activities). */
export function bareQueue(prefix: string) {
  return `${prefix}bare-saga`;
}
