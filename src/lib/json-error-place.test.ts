import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonErrorPlace } from './json-error-place.js';

test('valid JSON has no error place', () => {
  for (const text of ['{}', ' [1, -2.5e3, "a\\u00e9\\n", true, false, null, {"a": {"b": []}}] ', '"x"', '0'])
    assert.equal(jsonErrorPlace(text), null, text);
});

test('the first character that cannot continue the document, as line and column', () => {
  assert.deepEqual(jsonErrorPlace('{"name": "x",\n  "steps": [}'), { line: 2, column: 13 });
  assert.deepEqual(jsonErrorPlace('{"a": 1,}'), { line: 1, column: 9 });
  assert.deepEqual(jsonErrorPlace("{'a': 1}"), { line: 1, column: 2 });
  assert.deepEqual(jsonErrorPlace('{"a": tru}'), { line: 1, column: 10 });
  assert.deepEqual(jsonErrorPlace('{"a": 1} x'), { line: 1, column: 10 });
  assert.deepEqual(jsonErrorPlace('{"a": "\\q"}'), { line: 1, column: 9 });
  assert.deepEqual(jsonErrorPlace('{"a": "\\u12g4"}'), { line: 1, column: 12 });
  assert.deepEqual(jsonErrorPlace('{"a": 01}'), { line: 1, column: 8 });
  assert.deepEqual(jsonErrorPlace(''), { line: 1, column: 1 });
  assert.deepEqual(jsonErrorPlace('{\n"a": [1,\n2'), { line: 3, column: 2 });
});
