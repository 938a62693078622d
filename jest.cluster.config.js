/**
 * Jest on the cluster profile (`npm run test:cluster`, with SAGA_PROFILE=cluster): the integration
 * files that matter most for a real server, plus the failures only a cluster can show (test/cluster/).
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['order', 'exactly-once', 'webhooks', 'support', 'refund'].map((name) => `<rootDir>/test/integration/${name}.test.ts`).concat('<rootDir>/test/cluster/**/*.test.ts'),
  testPathIgnorePatterns: ['/node_modules/'],
};
