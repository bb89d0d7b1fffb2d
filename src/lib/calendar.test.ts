import assert from 'node:assert/strict';
import { test } from 'node:test';
import { impossibleDate } from './calendar.js';

test('dates that exist pass; days, months and times that do not are named', () => {
  for (const ok of ['2027-02-28', '2028-02-29T12:00:00Z', '2027-12-31T23:59:59.999+02:00', '2027-01-31 00:00', 'not a date', '7d'])
    assert.equal(impossibleDate(ok), undefined, ok);
  assert.equal(impossibleDate('2027-02-30T00:00:00Z'), '2027-02 has 28 days, not 30');
  assert.equal(impossibleDate('2027-02-29'), '2027-02 has 28 days, not 29');
  assert.equal(impossibleDate('2027-04-31'), '2027-04 has 30 days, not 31');
  assert.equal(impossibleDate('2027-13-01'), '2027-13 has no month 13');
  assert.equal(impossibleDate('2027-01-00'), '2027-01 has 31 days, not 0');
  assert.equal(impossibleDate('2027-01-01T24:30:00Z'), '24:30:00 is not a time of day');
  // V8 itself takes the first of these as a real day: the reason this check exists.
  assert.equal(new Date('2027-02-30T00:00:00Z').toISOString(), '2027-03-02T00:00:00.000Z');
});
