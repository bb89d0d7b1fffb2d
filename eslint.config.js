// Lint rules, including the layer rule of DESIGN.md:
//   http | jobs | cli | admin → services → inbound | crm | outbound | db → lib
// Nothing imports upward; route handlers, jobs and CLI commands never reach SQL (db/queries) directly.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: forbidden.map((dir) => ({ regex: `(^|/)(\\.\\./)*${dir}(/|\\.js$)`, message: `${why} (layer rule, DESIGN.md)` })) },
    ],
  },
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        fetch: 'readonly',
        Buffer: 'readonly',
        NodeJS: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  layer(['src/lib/**'], ['db', 'inbound', 'crm', 'outbound', 'services', 'http', 'jobs', 'cli', 'admin', 'main'], 'lib is domain-free'),
  layer(
    ['src/db/**', 'src/inbound/**', 'src/crm/**', 'src/outbound/**'],
    ['services', 'http', 'jobs', 'cli', 'admin', 'main'],
    'the domain layer does not import its callers',
  ),
  layer(['src/services/**'], ['http', 'jobs', 'cli', 'admin', 'main'], 'services are transport-agnostic'),
  layer(['src/http/**', 'src/jobs/**', 'src/cli/**', 'src/admin/**'], ['db/queries'], 'SQL is reached through a service'),
  {
    files: ['test/**', 'bench/**', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
