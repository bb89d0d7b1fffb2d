// compileExpression: CEL behind our one port — compile-time problems with positions, runtime errors that say
// what is missing, values back as plain JSON, and the bounds on size, nesting and cost.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileExpression, EXPRESSION_LIMITS, ExpressionError, type CompiledExpression } from './expression.js';

const context = {
  event: { id: 'cs_1', action: 'completed', amount_total: 4900, ratio: 0.5, items: [{ price: 'p1' }, { price: 'p2' }], metadata: {} },
  trigger: { type: 'stripe.checkout.session.completed', livemode: false },
  customer: { id: 'cus_1', email: 'ada@example.com', tags: ['vip'], attributes: { plan: 'gold' } },
  steps: { grant: { output: { accessId: 'acc_1' } } },
  run: { id: 'run_1', attempt: 1, mode: 'live' },
  secrets: { TOKEN: 's3cret' },
};

function compiled(source: string, kind: 'condition' | 'value' = 'value'): CompiledExpression {
  const c = compileExpression(source, { kind });
  if (!c.ok) assert.fail(`${source}: ${c.problem.message}`);
  return c;
}

function problem(source: string, kind: 'condition' | 'value' = 'value') {
  const c = compileExpression(source, { kind });
  assert.equal(c.ok, false, `${source} should not compile`);
  return (c as { ok: false; problem: { code: string; message: string; position?: { line: number; column: number } } }).problem;
}

function evalError(c: CompiledExpression, ctx: Record<string, unknown> = context): ExpressionError {
  try {
    c.evaluate(ctx);
  } catch (err) {
    assert.ok(err instanceof ExpressionError, `expected ExpressionError, got ${String(err)}`);
    return err;
  }
  return assert.fail(`${c.source} should fail`);
}

describe('compileExpression: values', () => {
  test('conditions and values evaluate against the context', () => {
    assert.equal(compiled("event.action == 'completed' && event.amount_total > 1000", 'condition').evaluate(context), true);
    assert.equal(compiled("'vip' in customer.tags", 'condition').evaluate(context), true);
    assert.equal(compiled('event.amount_total / 100').evaluate(context), 49, 'whole numbers are CEL ints');
    assert.equal(compiled('event.amount_total + 1').evaluate(context), 4901);
    assert.equal(compiled('event.ratio * 2.0').evaluate(context), 1);
    assert.deepEqual(compiled('event.items.map(i, i.price)').evaluate(context), ['p1', 'p2']);
    assert.equal(compiled('steps.grant.output.accessId').evaluate(context), 'acc_1');
    assert.equal(compiled('customer.attributes.plan').evaluate(context), 'gold');
  });

  test('results are plain JSON: ints as numbers, timestamps as ISO strings, optionals unwrapped', () => {
    assert.deepEqual(compiled("{'a': 1, 'b': [true, null, 'x']}").evaluate(context), { a: 1, b: [true, null, 'x'] });
    assert.equal(compiled("timestamp('2026-01-01T00:00:00Z')").evaluate(context), '2026-01-01T00:00:00.000Z');
    assert.equal(compiled("duration('90s')").evaluate(context), '90s');
    assert.equal(compiled("event.?coupon.orValue('none')").evaluate(context), 'none');
    assert.equal(compiled('event.?coupon').evaluate(context), null);
    assert.equal(compiled('has(event.coupon)', 'condition').evaluate(context), false);
  });

  test('references: roots, step ids and secret names', () => {
    const c = compiled("steps.grant.output.x == steps['notify'].output && secrets.TOKEN != '' && customer != null", 'condition');
    assert.deepEqual(c.references.steps.sort(), ['grant', 'notify']);
    assert.deepEqual(c.references.secrets, ['TOKEN']);
    assert.deepEqual(c.references.roots.sort(), ['customer', 'secrets', 'steps']);
    assert.deepEqual(compiled('secrets').references.secrets, ['*']);
  });
});

describe('compileExpression: problems at compile time', () => {
  test('syntax errors carry a position', () => {
    const p = problem('event.action ==', 'condition');
    assert.equal(p.code, 'syntax');
    assert.match(p.message, /syntax error \(column 16\): unexpected end of the expression/);
    assert.deepEqual(p.position, { offset: 15, line: 1, column: 16 });
    const q = problem("event.action = 'x'");
    assert.match(q.message, /column 14/);
    const r = problem('event.a &&\n  event.b ==');
    assert.equal(r.position?.line, 2);
    assert.match(r.message, /line 2, column/);
    assert.equal(problem('   ').code, 'syntax');
  });

  test('type errors and unknown names', () => {
    assert.match(problem("1 + 'a'").message, /no such overload: int \+ string/);
    const u = problem('evnt.action');
    assert.equal(u.code, 'unknown_variable');
    assert.match(u.message, /unknown name "evnt" \(column 1\); an expression can read event, trigger, customer, steps, run, secrets/);
    assert.match(problem('1 + 2', 'condition').message, /a condition must give true or false; this expression gives int/);
  });

  test('JavaScript is never evaluated', () => {
    assert.equal(compileExpression('process.exit(1)', { kind: 'value' }).ok, false);
    assert.equal(compileExpression('(() => 1)()', { kind: 'value' }).ok, false);
    assert.equal(compileExpression("event.constructor.constructor('return process')()", { kind: 'value' }).ok, false);
    const c = compiled("event['constructor']");
    assert.equal(evalError(c).code, 'missing_field', 'prototype properties are not fields');
  });

  test('size, depth, nesting and cel.bind are bounded', () => {
    assert.equal(problem('1 + '.repeat(700) + '1').code, 'too_long');
    assert.equal(problem(Array.from({ length: 300 }, () => '1').join(' + ')).code, 'too_complex');
    assert.equal(problem('('.repeat(40) + '1' + ')'.repeat(40)).code, 'too_complex');
    const nested = problem('event.items.exists(a, event.items.exists(b, event.items.exists(c, true)))', 'condition');
    assert.equal(nested.code, 'too_complex');
    assert.match(nested.message, /nest 3 deep; the limit is 2/);
    assert.equal(problem('cel.bind(x, 1, x + 1)').code, 'not_offered');
    assert.equal(problem(`[${Array.from({ length: EXPRESSION_LIMITS.maxListElements + 1 }, () => '1').join(',')}]`).code, 'too_complex');
  });
  test('matches() takes a literal pattern that matches in linear time', () => {
    const dynamic = problem('customer.email.matches(event.action)', 'condition');
    assert.equal(dynamic.code, 'not_offered');
    assert.match(dynamic.message, /must be a string literal/);
    assert.equal(dynamic.position?.column, 1);
    const backref = problem('event.action.matches("^(a+)\\\\1$")', 'condition');
    assert.equal(backref.code, 'not_offered');
    assert.match(backref.message, /back-references or lookarounds/);
    assert.equal(backref.position?.column, 22, 'points at the pattern');
    assert.match(problem('event.action.matches("a(")', 'condition').message, /not a valid regular expression/);
    assert.equal(compiled('customer.email.matches("^[a-z]+@example\\\\.com$")', 'condition').evaluate(context), true);
  });
});

describe('compileExpression: errors at evaluation', () => {
  test('a missing field is a clear error naming the field, never undefined', () => {
    const e = evalError(compiled('event.metadata.course'));
    assert.equal(e.code, 'missing_field');
    assert.match(e.message, /^event\.metadata has no field "course" \(column 16\); write has\(event\.metadata\.course\)/);
    assert.deepEqual(e.position, { offset: 15, line: 1, column: 16 });
    assert.match(evalError(compiled('customer.name')).message, /customer has no field "name"/);
    assert.equal(evalError(compiled('event.items[5]')).code, 'missing_field');
  });

  test('a customer that is absent is null', () => {
    const ctx = { ...context, customer: null };
    assert.equal(compiled('customer == null', 'condition').evaluate(ctx), true);
    assert.ok(evalError(compiled('customer.email'), ctx));
  });

  test('runtime type errors and division by zero', () => {
    assert.equal(evalError(compiled('event.amount_total / 0')).code, 'division_by_zero');
    assert.match(
      evalError(compiled('event.id', 'condition')).message,
      /a condition must give true or false; this expression gave the string "cs_1"/,
    );
    assert.match(evalError(compiled('event.ratio + 1')).message, /no such overload/);
  });

  test('huge input: the cost estimate refuses what could run too long', () => {
    const big = { ...context, event: { items: Array.from({ length: 20_000 }, (_, i) => i) } };
    const nested = compiled('event.items.exists(a, event.items.exists(b, a == b + 1))', 'condition');
    const e = evalError(nested, big);
    assert.equal(e.code, 'too_costly');
    assert.match(e.message, /a list of 20000 items/);
    assert.equal(compiled('size(event.items) == 20000', 'condition').evaluate(big), true, 'a single pass stays within budget');
  });

  test('a pattern that backtracks catastrophically returns at once, on the linear-time engine', () => {
    // The classic: nested quantifiers and a subject that almost matches, 2^n steps on a backtracking engine. 32
    // characters take about a minute there (so that this test fails rather than hangs without the fallback), and
    // milliseconds on the linear-time engine: the bound below is a tenth of the first and far above the second.
    const redos = compiled('event.text.matches("^(a+)+$")', 'condition');
    const started = process.hrtime.bigint();
    assert.equal(redos.evaluate({ ...context, event: { text: `${'a'.repeat(32)}b` } }), false);
    assert.ok(process.hrtime.bigint() - started < 5_000_000_000n, 'returned within seconds');
    assert.equal(redos.evaluate({ ...context, event: { text: 'a'.repeat(5000) } }), true);
  });

  test('huge output: the result size is bounded', () => {
    const big = { ...context, event: { text: 'x'.repeat(300_000), items: [1, 2, 3, 4] } };
    const e = evalError(compiled('event.items.map(i, event.text)'), big);
    assert.equal(e.code, 'too_large');
  });

  test('deep input is accepted and read', () => {
    let deep: Record<string, unknown> = { leaf: 'yes' };
    for (let i = 0; i < 200; i++) deep = { next: deep };
    const c = compiled('has(event.next.next.next)', 'condition');
    assert.equal(c.evaluate({ ...context, event: deep }), true);
  });

  test('a context with a cycle is refused', () => {
    const event: Record<string, unknown> = {};
    event.self = event;
    assert.equal(evalError(compiled('true'), { ...context, event }).code, 'context');
  });
});
