// The labels the incident and check pages make from detail keys (`words`): every word of a camelCase key apart,
// numbers kept with the word before them, single-letter words included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Details, Evidence, words } from './parity.js';

test('words: a detail key reads as words', () => {
  assert.equal(words('expectedStatus'), 'Expected status');
  assert.equal(words('access_key'), 'Access key');
  assert.equal(words('p95Seconds'), 'P95 seconds');
  assert.equal(words('belowInARow'), 'Below in a row');
  assert.equal(words('windowMinutes'), 'Window minutes');
  assert.equal(words('rule'), 'Rule');
});

test("a time in an incident's evidence or details reads as the console shows times, not as a raw ISO string", () => {
  const at = '2026-12-04T20:16:01.372Z';
  const evidence = String(Evidence({ ws: 'ws_1', evidence: { sampledAt: at, eventIds: ['evt_1'] }, runPrefix: 'run_' }));
  assert.match(evidence, /<dt>Sampled at<\/dt><dd><time datetime="2026-12-04T20:16:01.372Z"[^>]*>2026-12-04 20:16:01<\/time><\/dd>/);
  assert.match(evidence, /evt_1/);
  const details = String(Details({ details: { expected: 'active', since: at } }));
  assert.match(details, /<dt>Since<\/dt><dd><time datetime="2026-12-04T20:16:01.372Z"[^>]*>2026-12-04 20:16:01<\/time><\/dd>/);
});
