import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatJson, lineOfPath, parseJsonText, pathLines, readableDefinition, splitPath, syntaxErrorAt } from './json-text.js';

test('formatJson keeps small values on one line and opens up the long ones; it parses back to the same value', () => {
  const v = {
    name: 'Course buyers',
    trigger: { source: 'stripe', object: 'checkout_session', actions: ['completed'] },
    steps: [
      { id: 'grant', kind: 'access.grant', resource: 'course-101' },
      {
        id: 'notify',
        kind: 'http',
        url: 'https://example.com/enrolled',
        headers: { authorization: 'Bearer {{ secrets.APP_TOKEN }}' },
        body: { email: '{{ customer.email }}' },
      },
    ],
    empty: { a: [], b: {} },
  };
  const text = formatJson(v);
  assert.deepEqual(JSON.parse(text), v);
  const lines = text.split('\n');
  assert.ok(lines.includes('  "trigger": { "source": "stripe", "object": "checkout_session", "actions": ["completed"] },'), text);
  assert.ok(lines.includes('    { "id": "grant", "kind": "access.grant", "resource": "course-101" },'), text);
  assert.ok(lines.includes('      "id": "notify",'), 'a step too long for one line has one field per line');
  assert.ok(
    lines.every((l) => l.length <= 100),
    text,
  );
  assert.equal(formatJson('a'), '"a"');
  assert.equal(formatJson([]), '[]');
});

test('splitPath reads the validation paths: identifiers, indexes, quoted keys', () => {
  assert.deepEqual(splitPath('steps[0].cases[1].steps[0].url'), ['steps', 0, 'cases', 1, 'steps', 0, 'url']);
  assert.deepEqual(splitPath('trigger.actions[2]'), ['trigger', 'actions', 2]);
  assert.deepEqual(splitPath('steps[0].headers."x-api.key"'), ['steps', 0, 'headers', 'x-api.key']);
  assert.deepEqual(splitPath('name'), ['name']);
  assert.deepEqual(splitPath(''), []);
  assert.equal(splitPath('steps[x]'), null);
  assert.equal(splitPath('a..b'), null);
});

test('pathLines and lineOfPath point at the line of a value, or of the nearest enclosing one when it is missing', () => {
  const text = [
    '{',
    '  "name": "x",',
    '  "trigger": { "source": "stripe",',
    '    "object": "checkout_sesion" },',
    '  "steps": [',
    '    {',
    '      "id": "a", "kind": "http",',
    '      "headers": { "x-key": "{{ secrets.K }}" },',
    '      "body": {',
    '        "x": "{{ steps.ghost.output }}"',
    '      }',
    '    },',
    '    { "id": "b", "kind": "crm.tag", "add": ["y", "z"] }',
    '  ]',
    '}',
  ].join('\r\n');
  const lines = pathLines(text);
  const at = (p: string) => lineOfPath(lines, p);
  assert.deepEqual(at('name'), { line: 2, exact: true });
  assert.deepEqual(at('trigger.object'), { line: 4, exact: true });
  assert.deepEqual(at('steps[0]'), { line: 6, exact: true });
  assert.deepEqual(at('steps[0].body.x'), { line: 10, exact: true });
  assert.deepEqual(at('steps[0].headers."x-key"'), { line: 8, exact: true });
  assert.deepEqual(at('steps[1].add[1]'), { line: 13, exact: true });
  assert.deepEqual(at('steps[0].url'), { line: 6, exact: false }, 'a missing field: the step it belongs in');
  assert.deepEqual(at('trigger.if'), { line: 3, exact: false });
  assert.equal(at(''), undefined, 'the definition as a whole has no line');
  assert.equal(at('nonsense[['), undefined);
});

test('parseJsonText says where a syntax error is, as line and column', () => {
  const bad = '{\n  "name": "x",\n  "steps": [ { "id": "a" } ]\n  "trigger": {}\n}';
  const r = parseJsonText(bad);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.line, 4);
  assert.match(r.message, /^not valid JSON at line 4, column 3: /);
  const token = parseJsonText('{"a": }');
  assert.ok(!token.ok && /^not valid JSON at line 1, column 7: Unexpected token/.test(token.message), JSON.stringify(token));
  assert.ok(!token.ok && !token.message.includes('is not valid JSON'), 'no excerpt of the text in the message');
  const empty = parseJsonText('  ');
  assert.ok(!empty.ok && /empty/.test(empty.message));
  assert.deepEqual(parseJsonText('{"a": [1, 2.5e3, true, null, "\\u00e9"]}'), { ok: true, value: { a: [1, 2500, true, null, 'é'] } });
});

test('syntaxErrorAt agrees with JSON.parse on what is valid', () => {
  const cases = [
    '{}',
    '[]',
    '{"a":1}',
    '[1,2]',
    '"x"',
    '1',
    '{"a":1,}',
    '[1 2]',
    '{"a" 1}',
    '{a:1}',
    '"\u0001"',
    '01',
    '{"a":1}}',
    '',
    'nul',
  ];
  for (const c of cases) {
    let valid = true;
    try {
      JSON.parse(c);
    } catch {
      valid = false;
    }
    assert.equal(syntaxErrorAt(c) === -1, valid, JSON.stringify(c));
  }
});

test('readableDefinition puts keys in the order a person writes them, whatever order jsonb kept', () => {
  const stored = {
    steps: [
      {
        id: 'r',
        on: 'event.action',
        kind: 'switch',
        retry: { backoff: 'exponential', max: 0 },
        cases: [{ steps: [{ id: 'n', url: 'https://x', body: { z: 1, a: 2 }, kind: 'http', onError: 'fail' }], when: 'completed' }],
        onError: 'fail',
      },
    ],
    name: 'x',
    trigger: { if: 'true', object: 'checkout_session', source: 'stripe' },
  };
  const r = readableDefinition(stored);
  assert.deepEqual(r, stored, 'the same value');
  assert.deepEqual(Object.keys(r), ['name', 'trigger', 'steps']);
  assert.deepEqual(Object.keys(r.trigger as object), ['source', 'object', 'if']);
  const step = (r.steps as any[])[0];
  assert.deepEqual(Object.keys(step), ['id', 'kind', 'on', 'cases', 'retry', 'onError']);
  assert.deepEqual(Object.keys(step.retry), ['max', 'backoff']);
  assert.deepEqual(Object.keys(step.cases[0]), ['when', 'steps']);
  assert.deepEqual(Object.keys(step.cases[0].steps[0]), ['id', 'kind', 'url', 'body', 'onError']);
  assert.deepEqual(Object.keys(step.cases[0].steps[0].body), ['z', 'a'], 'values inside are left as they are');
});
