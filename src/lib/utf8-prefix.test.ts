import assert from 'node:assert/strict';
import { test } from 'node:test';
import { overUtf8Bytes, utf8Prefix } from './utf8-prefix.js';

test('utf8Prefix keeps text that fits and cuts the rest at a character boundary', () => {
  assert.equal(utf8Prefix('short', 10), 'short');
  assert.equal(utf8Prefix('abcdefghij', 4), 'abcd');
  // 'é' is 2 bytes, '€' 3, '😀' 4 (a surrogate pair in JavaScript): a cut inside one drops the whole character.
  assert.equal(utf8Prefix('éé', 3), 'é');
  assert.equal(utf8Prefix('a€', 3), 'a');
  assert.equal(utf8Prefix('ab😀', 5), 'ab');
  assert.equal(utf8Prefix('ab😀', 6), 'ab😀');
  for (let n = 0; n <= 40; n++) {
    const out = utf8Prefix('x€é😀'.repeat(5), n);
    assert.ok(Buffer.byteLength(out) <= n, `at most ${n} bytes`);
    assert.ok(!out.includes('\uFFFD'), 'no broken character');
    assert.ok(Buffer.byteLength(out) > n - 4, 'as long as it can be');
  }
});

test('overUtf8Bytes counts bytes, not characters', () => {
  assert.equal(overUtf8Bytes('a'.repeat(255), 255), false);
  assert.equal(overUtf8Bytes('a'.repeat(256), 255), true);
  assert.equal(overUtf8Bytes('é'.repeat(128), 255), true);
  assert.equal(overUtf8Bytes('é'.repeat(127), 255), false);
  assert.equal(overUtf8Bytes('😀'.repeat(63), 255), false);
  assert.equal(overUtf8Bytes('😀'.repeat(64), 255), true);
});
