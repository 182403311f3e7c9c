// ESLint flat config: typescript-eslint's type-checked recommended rules for TypeScript, the untyped recommended
// rules for JavaScript (bin/pgshift, bin/cli/lambda-host.cjs, the rig's .mjs); Prettier owns formatting.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const TS_FILES = ['**/*.ts', '**/*.mts', '**/*.cts'];
const TEST_FILES = ['test/**/*.ts', 'test/**/*.mts'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', 'coverage/**', '.pgshift-local/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked.map((config) => ({ ...config, files: TS_FILES })),
  {
    files: TS_FILES,
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: TEST_FILES,
    rules: {
      // @types/jest types the asymmetric matchers (expect.objectContaining, expect.stringMatching, ...) as `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // Fakes and stand-ins implement async interfaces (an SDK client's send, a step's deps) without awaiting.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/infra/**/*.ts'],
    rules: {
      // aws-cdk-lib/assertions' Template returns CloudFormation as `any`: these tests read it as untyped JSON.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
