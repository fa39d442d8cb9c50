// Lint for the server, its tests and the project's scripts: ESLint's own
// recommended rules, then typescript-eslint's type-aware `strictTypeChecked`
// and `stylisticTypeChecked`. Type-aware rules ask the TypeScript compiler
// what each value is, which is what catches the bugs an async server hides
// (see the rules named below). `npm run lint` runs this with --max-warnings 0.
//
// The browser code in public/js is type-checked by tsconfig.browser.json
// instead, and bench/ is its own package with its own dependencies.

import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['public/**', 'bench/**', 'coverage/**', 'docs/**', 'data/**', 'sessions/**'],
  },
  {
    files: ['server.ts', 'lib/**/*.ts', 'test/**/*.ts', 'scripts/**/*.ts', 'scripts/**/*.mjs', 'eslint.config.mjs'],
    extends: [js.configs.recommended, tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: {
        // Each file is checked with the tsconfig.json that includes it.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Already errors in strictTypeChecked; named here because in an async
      // server they are real bugs, not style: a promise nobody awaits loses
      // its rejection (an unhandled rejection ends the process), a promise
      // passed where a callback is expected runs unordered and unobserved,
      // and `any` switches the type checker off for everything it reaches.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe() and it() return promises that the runner
          // itself awaits and reports; awaiting them by hand is not needed.
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'suite', 'test'] }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'error',
      '@typescript-eslint/no-unsafe-call': 'error',
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',

      // Relaxed, each for a reason:
      // `${ms} ms` is the normal way to put a number in a message; objects, null and undefined are still refused.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `if (bad) return fail(ctx)` and `() => resolve()` are the early return and the callback the code is written in; the type checker already refuses a void used as a value.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // `Array<[string, unknown]>` reads better than `[string, unknown][]`; simple types still use `T[]`.
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // Spreading a string splits it into code points, which is how lengths are counted on purpose.
      '@typescript-eslint/no-misused-spread': ['error', { allow: [{ from: 'lib', name: 'string' }] }],
      // TypeScript already reports names that are not defined, in the checked .mjs files too.
      'no-undef': 'off',
      // An async handler without await still turns a synchronous throw into a rejection its caller handles.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // With noUncheckedIndexedAccess, `lines[0]!` after asserting the length is the plain way; a wrong `!` fails the test anyway.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
