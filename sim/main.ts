/**
 * Starts one simulator as its own process: `tsx sim/main.ts <legacy-ecommerce|payments|fulfilment> [port]`.
 * SIM_API_KEYS (comma-separated) makes it require `Authorization: Bearer <one of them>`.
 * Port 0 picks a free one; once listening it prints `{"ready":name,"url":…}` on stdout for supervisors and tests.
 */
import { createFulfilmentSim } from './fulfilment';
import { createLegacyEcommerceSim } from './legacy-ecommerce';
import { createPaymentsSim } from './payments';

const SIMULATORS = {
  'legacy-ecommerce': { create: createLegacyEcommerceSim, port: 4101 },
  payments: { create: createPaymentsSim, port: 4102 },
  fulfilment: { create: createFulfilmentSim, port: 4103 },
} as const;

const name = process.argv[2] as keyof typeof SIMULATORS;
const spec = SIMULATORS[name];
if (!spec) {
  console.error(`usage: sim/main.ts <${Object.keys(SIMULATORS).join('|')}> [port]`);
  process.exit(2);
}
const port = process.argv[3] !== undefined ? Number(process.argv[3]) : spec.port;
// SIM_API_KEYS: the bearer keys this simulator accepts, comma-separated (a rotation accepts two).
const apiKeys = (process.env.SIM_API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);
// Payments only: SIM_WEBHOOK_URL and SIM_WEBHOOK_SECRET name the default webhook endpoint;
// SIM_WEBHOOK_RETRY_MS is the first retry delay (doubling, 8 attempts).
const webhooks = {
  defaultEndpoint: process.env.SIM_WEBHOOK_URL && process.env.SIM_WEBHOOK_SECRET ? { url: process.env.SIM_WEBHOOK_URL, secret: process.env.SIM_WEBHOOK_SECRET } : undefined,
  retryBaseMs: Number(process.env.SIM_WEBHOOK_RETRY_MS ?? 500),
  maxAttempts: 8,
};
const server = spec.create({ apiKeys, webhooks }).listen(port);
server.on('listening', () => {
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  console.log(JSON.stringify({ ready: name, url: `http://127.0.0.1:${actual}` }));
});
server.on('error', (err) => {
  console.error(`${name} simulator: ${err.message}`);
  process.exit(1);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
