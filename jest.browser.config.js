/** Jest for `npm run test:browser`: the Web UI walk-through in headless Chromium (test/browser/), kept out of `npm test`. */
/* global module */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
  testTimeout: 180_000,
  maxWorkers: 1,
};
