// Four projects a developer can run alone (`npm run test:unit`, ...). @swc/jest strips types without checking
// them (`npm run typecheck` does that once, in CI), which keeps the CDK suites fast.
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
const rig = {
  globalSetup: '<rootDir>/test/rig/global-setup.mjs',
  globalTeardown: '<rootDir>/test/rig/global-teardown.mjs',
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      transform,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/lambdas/**/*.test.ts'],
    },
    {
      displayName: 'infra',
      transform,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/infra/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      transform,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      ...rig,
    },
    {
      displayName: 'workflow',
      transform,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/workflow/**/*.test.ts'],
      ...rig,
    },
  ],
  testTimeout: 120000,
};
