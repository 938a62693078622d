/**
 * Bench only: the order's four downstream calls as one chain, in the shape both the direct path
 * (bench/chain.ts, plain awaits) and the bare saga (bench/noop-workflows.ts, the same calls as local
 * activities) run them. No imports: the workflow bundle takes it as it is.
 */
export interface ChainInput {
  customerId: string;
  /** One per run: the downstream keys are derived from it, step by step. */
  reference: string;
  currency: string;
  lines: { sku: string; quantity: number; unitPriceMinor: number }[];
  amountMinor: number;
  token: string;
  skus: string[];
}

export interface ChainSteps {
  createOrder(input: ChainInput): Promise<string>;
  charge(input: ChainInput): Promise<void>;
  grant(input: ChainInput): Promise<void>;
  completeOrder(input: ChainInput, orderNumber: string): Promise<void>;
}

/** legacy createOrder → payments charge → fulfilment grant → legacy completeOrder. */
export async function runChain(steps: ChainSteps, input: ChainInput): Promise<void> {
  const orderNumber = await steps.createOrder(input);
  await steps.charge(input);
  await steps.grant(input);
  await steps.completeOrder(input, orderNumber);
}
