// Lint: type-aware rules that catch real bugs, and the layers of src/ (docs/decisions.md, "Lint").
// Everything is an error and `npm run lint` allows no warnings.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers: what each folder of src/ must not import (static imports, `import type` included).
// src/app.ts, src/main.ts, src/runtime.ts and src/cluster.ts wire everything and may import anything.
const forbidden = {
  domain: ['config', 'storage', 'services', 'http', 'cli', 'app', 'main', 'runtime', 'cluster'],
  config: ['storage', 'services', 'http', 'cli', 'app', 'main', 'runtime', 'cluster'],
  storage: ['config', 'services', 'http', 'cli', 'app', 'main', 'runtime', 'cluster'],
  services: ['http', 'cli', 'app', 'main', 'runtime', 'cluster'],
  http: ['storage', 'cli', 'app', 'main', 'runtime', 'cluster'],
  // The CLI opens the store through runtime.ts and starts the server through main.ts (a dynamic import).
  cli: ['http', 'app'],
};
const roots = new Set(['app', 'main', 'runtime', 'cluster']);

// A relative import that climbs out to src/ and into `target`: '../storage/x.ts', '../../http/y.ts', '../app.ts'.
// It relies on no folder inside a layer being named like a layer, which holds today.
function layerRule(layer, except = []) {
  const targets = forbidden[layer].filter((target) => !except.includes(target));
  return {
    'no-restricted-imports': [
      'error',
      {
        patterns: targets.map((target) => ({
          regex: roots.has(target) ? `^(\\.\\./)+${target}\\.tsx?$` : `^(\\.\\./)+${target}/`,
          message: `src/${layer} must not import ${roots.has(target) ? `src/${target}.ts` : `src/${target}`} (the layers: docs/decisions.md, "Lint").`,
        })),
      },
    ],
  };
}

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'coverage/', 'bench/results/', 'test-results/', '.scratch/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A `default` does not make a switch over a union exhaustive: a new member (a factor type, an
      // audit action) must be handled or listed where each switch is, not fall silently into `default`.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false }],
      // verbatimModuleSyntax keeps every value import at run time: type-only names go on their own `import type` line.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'separate-type-imports' }],
      'no-restricted-syntax': ['error', { selector: "ImportSpecifier[importKind='type']", message: 'Put type-only names on their own `import type` line.' }],
      // `return promise` inside try skips the catch and the finally when it rejects.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // Promise.all over optional slots (`slot?.worker.terminate()`) is intended; an array of no promise at all is still caught.
      '@typescript-eslint/await-thenable': ['error', { allowMixedPromiseArrays: true }],
      // Destructuring a property away (`{ keywords: _keywords, ...entry }`) is how we omit one.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // `{}` is what a truthiness check leaves of `unknown` (a caught error, an audit detail): String() of it is intended.
      '@typescript-eslint/no-base-to-string': ['error', { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', '{}'] }],
      // Noise here: Fastify plugins and hooks are async by contract, and so are the store's and notifier's methods.
      '@typescript-eslint/require-await': 'off',
      // Noise here: Fastify declares decorators as methods and calls hooks with `this` bound (`preHandler: app.csrfProtection`).
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'test/**/*.tsx'],
    rules: {
      // Noise here: vitest types its asymmetric matchers (expect.any, expect.stringMatching) as `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    // Plain JavaScript (bin/, public/, this file) is outside tsconfig: @eslint/js's rules only.
    files: ['public/**/*.js'],
    languageOptions: { globals: { document: 'readonly', Element: 'readonly', HTMLDialogElement: 'readonly' } },
  },
  ...Object.keys(forbidden).map((layer) => ({ files: [`src/${layer}/**`], rules: layerRule(layer) })),
);
