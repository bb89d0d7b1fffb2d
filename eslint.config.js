// Lint rules, including the layer rule of DESIGN.md:
//   http | jobs | cli | console → services → inbound | crm | parity | workflows | outbound | catalog | db → lib
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
  layer(
    ['src/lib/**'],
    ['db', 'inbound', 'crm', 'parity', 'workflows', 'outbound', 'catalog', 'services', 'http', 'jobs', 'cli', 'console', 'main'],
    'lib is domain-free',
  ),
  layer(
    ['src/db/**', 'src/inbound/**', 'src/crm/**', 'src/parity/**', 'src/workflows/**', 'src/outbound/**', 'src/catalog/**'],
    ['services', 'http', 'jobs', 'cli', 'console', 'main'],
    'the domain layer does not import its callers',
  ),
  layer(['src/services/**'], ['http', 'jobs', 'cli', 'console', 'main'], 'services are transport-agnostic'),
  layer(['src/http/**', 'src/jobs/**', 'src/cli/**', 'src/console/**'], ['db/queries'], 'SQL is reached through a service'),
  // SQL lives in src/db/ (DESIGN.md, convention 7): no query call and no SQL text anywhere else in src/.
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: ['src/db/**', '**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='query']", message: 'SQL lives in src/db/queries (DESIGN.md)' },
        {
          selector: 'Literal[value=/^\\s*(SELECT|INSERT INTO|UPDATE \\w+ SET|DELETE FROM|WITH \\w+ AS)\\b/i]',
          message: 'SQL lives in src/db/queries (DESIGN.md)',
        },
        {
          selector: 'TemplateElement[value.raw=/^\\s*(SELECT|INSERT INTO|UPDATE \\w+ SET|DELETE FROM|WITH \\w+ AS)\\b/i]',
          message: 'SQL lives in src/db/queries (DESIGN.md)',
        },
      ],
    },
  },
  // The console's own browser scripts: plain scripts (no build step), run in the browser.
  {
    files: ['src/console/assets/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'localStorage',
          'navigator',
          'Element',
          'HTMLElement',
          'HTMLSelectElement',
          'CustomEvent',
          'uPlot',
          'htmx',
          'getComputedStyle',
          'ResizeObserver',
          'Intl',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
  // The JSX factory and fragment are used by the compiled JSX, which the rule does not see.
  {
    files: ['**/*.tsx'],
    rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^(_|h$|Fragment$)' }] },
  },
  {
    files: ['test/**', 'bench/**', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
