// Templates: typed single expressions, text interpolation, escaping, errors with paths, size limits.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileTemplate, splitTemplate, TEMPLATE_LIMITS, type CompiledTemplate } from './template.js';

const context = {
  event: { id: 'cs_1', amount_total: 4900, paid: true, lines: ['a', 'b'], metadata: { course: 'c101' }, note: null },
  customer: { email: 'ada@example.com', tags: ['vip'] },
  steps: {},
  run: { id: 'run_1' },
  trigger: {},
  secrets: {},
};

function template(value: unknown): CompiledTemplate {
  const t = compileTemplate(value, 'body');
  if (!t.ok) assert.fail(JSON.stringify(t.problems));
  return t.template;
}

function rendered(value: unknown, ctx: Record<string, unknown> = context): unknown {
  const r = template(value).render(ctx);
  if (!r.ok) assert.fail(r.problem.message);
  return r.value;
}

describe('templates', () => {
  test('a string that is one {{ }} keeps the value type', () => {
    assert.equal(rendered('{{ event.amount_total }}'), 4900);
    assert.equal(rendered(' {{ event.paid }} '), true);
    assert.deepEqual(rendered('{{ customer.tags }}'), ['vip']);
    assert.deepEqual(rendered('{{ event.metadata }}'), { course: 'c101' });
    assert.equal(rendered('{{ event.note }}'), null);
  });

  test('mixed text renders to a string', () => {
    assert.equal(rendered('Paid {{ event.amount_total }} by {{ customer.email }}'), 'Paid 4900 by ada@example.com');
    assert.equal(rendered('{{ event.id }}/{{ event.id }}'), 'cs_1/cs_1');
    assert.equal(rendered('lines: {{ event.lines }}, note: [{{ event.note }}]'), 'lines: ["a","b"], note: []');
  });

  test('walks JSON: objects, lists, non-strings untouched, keys literal', () => {
    const value = { email: '{{ customer.email }}', n: 3, ok: false, list: ['{{ event.id }}', null], '{{ key }}': 'x' };
    assert.deepEqual(rendered(value), { email: 'ada@example.com', n: 3, ok: false, list: ['cs_1', null], '{{ key }}': 'x' });
  });

  test('escaping: {{ "{{" }} writes {{, and }} inside a quoted string does not close', () => {
    assert.equal(rendered('literal {{ "{{" }} braces }}'), 'literal {{ braces }}');
    assert.equal(rendered("{{ '}}' + event.id }}"), '}}cs_1');
    assert.equal(rendered('just }} text'), 'just }} text');
    assert.deepEqual(splitTemplate('a{{b}}c'), [{ text: 'a' }, { source: 'b', offset: 3 }, { text: 'c' }]);
  });

  test('compile problems carry the path', () => {
    const t = compileTemplate({ a: { b: ['ok', '{{ event.id == }}'] }, c: 'open {{ event.id' }, 'steps[0].body');
    assert.equal(t.ok, false);
    const problems = (t as { problems: { path: string; message: string }[] }).problems;
    assert.deepEqual(
      problems.map((p) => p.path),
      ['steps[0].body.a.b[1]', 'steps[0].body.c'],
    );
    assert.match(problems[0]!.message, /in \{\{ event.id == \}\}: syntax error/);
    assert.match(problems[1]!.message, /never closed/);
  });

  test('a template reading a missing field fails with a clear error and its path', () => {
    const r = template({ session: '{{ event.metadata.plan }}' }).render(context);
    assert.equal(r.ok, false);
    const problem = (r as { problem: { path: string; message: string } }).problem;
    assert.equal(problem.path, 'body.session');
    assert.match(problem.message, /event\.metadata has no field "plan"/);
    assert.doesNotMatch(problem.message, /undefined/);
  });

  test('expressions list paths and references', () => {
    const t = template({ url: 'https://x/{{ secrets.K }}', body: { a: '{{ steps.s1.output.id }}' } });
    assert.deepEqual(
      t.expressions.map((e) => [e.path, e.references.secrets, e.references.steps]),
      [
        ['body.url', ['K'], []],
        ['body.body.a', [], ['s1']],
      ],
    );
  });

  test('limits: rendered size and number of expressions', () => {
    const big = { ...context, event: { text: 'x'.repeat(200_000) } };
    const r = template({ a: '{{ event.text }}', b: 'again {{ event.text }}' }).render(big);
    assert.equal(r.ok, false);
    assert.match((r as { problem: { message: string } }).problem.message, /larger than/);
    const many = compileTemplate(Array.from({ length: TEMPLATE_LIMITS.maxExpressions + 5 }, () => '{{ event.id }}'));
    assert.equal(many.ok, false);
  });
});
