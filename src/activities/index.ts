/** Merges the activity factories; the worker registers each group on its own downstream's task queue. */
import { createFulfilmentActivities } from './fulfilment';
import { createLegacyEcommerceActivities } from './legacy-ecommerce';
import { createPaymentActivities } from './payments';
import type { FulfilmentClient } from '../clients/fulfilment';
import type { LegacyEcommerceClient } from '../clients/legacy-ecommerce';
import type { PaymentsClient } from '../clients/payments';

export interface ActivityDeps {
  legacy: LegacyEcommerceClient;
  payments: PaymentsClient;
  fulfilment: FulfilmentClient;
}

export function createActivities(deps: ActivityDeps) {
  return {
    legacyEcommerce: createLegacyEcommerceActivities(deps),
    payments: createPaymentActivities(deps),
    fulfilment: createFulfilmentActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { createFulfilmentActivities, createLegacyEcommerceActivities, createPaymentActivities };
