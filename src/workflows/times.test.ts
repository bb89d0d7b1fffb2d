import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStepTime } from './times.js';

const iso = (v: unknown) => {
  const r = parseStepTime(v);
  return r.ok ? r.date.toISOString() : `error: ${r.message}`;
};

test('step times: ISO (UTC without an offset, on any server), unix seconds; impossible dates and other forms refused', () => {
  assert.equal(iso('2026-12-25T10:00:00Z'), '2026-12-25T10:00:00.000Z');
  assert.equal(iso('2026-12-25T10:00:00+02:00'), '2026-12-25T08:00:00.000Z');
  assert.equal(iso('2026-12-25T10:00:00+0200'), '2026-12-25T08:00:00.000Z');
  assert.equal(iso('2026-12-25 10:00'), '2026-12-25T10:00:00.000Z', 'no offset: UTC, not the server’s zone');
  assert.equal(iso('2026-12-25T10:00:00.123456Z'), '2026-12-25T10:00:00.123Z');
  assert.equal(iso('2026-12-25'), '2026-12-25T00:00:00.000Z');
  assert.equal(iso(1767225600), '2026-01-01T00:00:00.000Z');
  assert.equal(iso('1767225600'), '2026-01-01T00:00:00.000Z');
  assert.match(iso('2027-02-30T00:00:00Z'), /not a date that exists: 2027-02 has 28 days, not 30/);
  assert.match(iso('2026-12-04T24:30:00Z'), /not a date that exists/);
  assert.match(iso('12/25/2026'), /is not a time/);
  assert.match(iso('Dec 25 2026'), /is not a time/);
  assert.match(iso('+275760-09-13T00:00:00.000Z'), /is not a time/);
  assert.match(iso(1.5), /whole number/);
  assert.match(iso(3e11), /between the years 1970 and 9999/);
  assert.match(iso(null), /is not a time/);
  assert.match(iso({}), /is not a time/);
});
