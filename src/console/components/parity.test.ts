// The labels the incident and check pages make from detail keys (`words`): every word of a camelCase key apart,
// numbers kept with the word before them, single-letter words included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { words } from './parity.js';

test('words: a detail key reads as words', () => {
  assert.equal(words('expectedStatus'), 'Expected status');
  assert.equal(words('access_key'), 'Access key');
  assert.equal(words('p95Seconds'), 'P95 seconds');
  assert.equal(words('belowInARow'), 'Below in a row');
  assert.equal(words('windowMinutes'), 'Window minutes');
  assert.equal(words('rule'), 'Rule');
});
