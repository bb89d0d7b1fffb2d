import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exactText, findUnstorable, isPlainJsonText, MAX_PAYLOAD_DEPTH, storableText, storableTime } from './storable-payload.js';

test('findUnstorable names the problem and where it is, without recursing', () => {
  assert.equal(findUnstorable({ a: [1, 'x', { b: null }] }), undefined);
  assert.match(findUnstorable({ data: { object: { name: 'a\u0000b' } } })!, /NUL.*\$\.data\.object\.name/);
  assert.match(findUnstorable({ a: ['\ud800'] })!, /surrogate.*\$\.a\[0\]/);
  assert.equal(findUnstorable({ a: '\ud83d\ude00' }), undefined, 'a paired surrogate is an ordinary character');
  assert.match(findUnstorable({ ['k\u0000']: 1 })!, /a key contains the NUL/);
  assert.match(findUnstorable({ n: Infinity })!, /too large/);
  // 200,000 levels would overflow a recursive walk.
  assert.match(findUnstorable(JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`))!, /nested more than/);
});

test('storableText escapes only what text cannot hold; storableTime and exactText refuse what is not exact', () => {
  assert.equal(storableText('evt_\u0000x\ud800'), 'evt_\\u0000x\\ud800');
  assert.equal(storableText('ok \ud83d\ude00'), 'ok \ud83d\ude00');
  assert.equal(storableTime(1e20), undefined);
  assert.equal(storableTime(1_700_000_000)!.toISOString(), '2023-11-14T22:13:20.000Z');
  assert.equal(exactText(Buffer.from([0x7b, 0xff, 0x7d])), undefined);
  assert.equal(exactText(Buffer.from('a\u0000b')), undefined);
  assert.equal(exactText(Buffer.from('\ufeff{}')), '\ufeff{}', 'a BOM is kept, not stripped');
});

test('isPlainJsonText: plain provider JSON yes; risky escapes and deep nesting go the careful way', () => {
  assert.equal(isPlainJsonText('{"a":[1,{"b":"c"}],"e":"\\u00e9"}'), true, 'an escape jsonb takes (é) is fine');
  assert.equal(isPlainJsonText('{"a":"x\\u0000y"}'), false);
  assert.equal(isPlainJsonText('{"a":"\\ud800"}'), false);
  assert.equal(isPlainJsonText('{"a":"\\uDFFF"}'), false);
  assert.equal(isPlainJsonText(`{"a":${'['.repeat(MAX_PAYLOAD_DEPTH)}${']'.repeat(MAX_PAYLOAD_DEPTH)}}`), false);
  assert.equal(isPlainJsonText(`{"a":${'['.repeat(MAX_PAYLOAD_DEPTH - 2)}${']'.repeat(MAX_PAYLOAD_DEPTH - 2)}}`), true);
});
