/** Settings that would quietly weaken a promise are refused when the process starts. */
import { loadConfig } from '../../src/config';

test('a Standard Webhooks partner cannot be named "payments": only the processor route settles a charge', () => {
  expect(() => loadConfig({ STANDARD_WEBHOOK_SECRETS: '{"payments":"whsec_x"}' })).toThrow(/payment processor's own route/);
  expect(loadConfig({ STANDARD_WEBHOOK_SECRETS: '{"fulfilment":"whsec_a,whsec_b"}' }).STANDARD_WEBHOOK_SECRETS).toEqual({ fulfilment: ['whsec_a', 'whsec_b'] });
});
