/** Jest: SWC transpiles TypeScript; one dev server + simulators are shared by all files (globalSetup). */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // headless Chromium: `npm run test:browser`; failures only a cluster can show: `npm run test:cluster`
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/browser/', '<rootDir>/test/cluster/'],
  setupFiles: ['<rootDir>/test/support/quiet-runtime.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  // One file at a time: every file starts real processes (dev servers, supervisors, workers), and on
  // two cores running them side by side mostly measures contention.
  maxWorkers: 1,
};
