// Lint: typescript-eslint's recommended rules, plus the one rule that guards workflow determinism:
// workflow files may not import Node built-ins, activity implementations, clients or the API.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.data/', 'dist/', 'coverage/', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflows must be deterministic: no Node built-ins.' })),
          patterns: [
            {
              group: ['**/activities/**', '**/activities', '**/clients/**', '**/api/**', '**/config', '@temporalio/worker', '@temporalio/client', '@temporalio/activity', 'undici', 'pino', 'express'],
              message: 'Workflows import activities as types only (import type) and never touch I/O modules.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Contracts are shared with workflows: zod and constants only.' })),
          patterns: [{ group: ['../*', '**/src/**'], message: 'Contracts import nothing of ours.' }],
        },
      ],
    },
  },
);
