/**
 * Jest on the cluster profile (`npm run test:cluster`, with SAGA_PROFILE=cluster): the integration
 * files that matter most for a real server, plus the failures only a cluster can show (test/cluster/).
 */
/* global module */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['order', 'exactly-once', 'webhooks', 'support', 'refund'].map((name) => `<rootDir>/test/integration/${name}.test.ts`).concat('<rootDir>/test/cluster/**/*.test.ts'),
  setupFiles: ['<rootDir>/test/support/quiet-runtime.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 90_000,
  maxWorkers: 1,
};
