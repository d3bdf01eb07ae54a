// One test runner for the whole tree. TypeScript is transformed by esbuild (CommonJS, see
// jest.transform.js); type checking is `npm run build`, so tests stay fast. ESM-only packages
// are not used (jose@5 is dual-format) - see README "Development".
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': '<rootDir>/jest.transform.js' },
  testMatch: ['**/?(*.)test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/.cache/', '/var/'],
  globalSetup: '<rootDir>/ops/services/jest-global-setup.ts',
  globalTeardown: '<rootDir>/ops/services/jest-global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
