// Four projects a developer can run alone (`npm run test:unit`, ...). @swc/jest strips types without checking
// them (`npm run typecheck` does that once, in CI), which keeps the CDK suites fast.
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
// GitHub's workflow parser and expression engine ship as ES modules only (exports with an "import" condition):
// transformed to CommonJS like our sources, resolved to their dist/ (test/helpers/github-workflow.ts).
const githubActionsModules = {
  transformIgnorePatterns: ['/node_modules/(?!@actions/(workflow-parser|expressions)/)'],
  moduleNameMapper: {
    '^@actions/(workflow-parser|expressions)$': '<rootDir>/node_modules/@actions/$1/dist/index.js',
    '^@actions/(workflow-parser|expressions)/(.*)$': '<rootDir>/node_modules/@actions/$1/dist/$2.js',
  },
};
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
      ...githubActionsModules,
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
      ...githubActionsModules,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/workflow/**/*.test.ts'],
      ...rig,
    },
  ],
  testTimeout: 120000,
};
