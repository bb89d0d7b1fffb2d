// The parity policy's input checks that JavaScript and the cron library alone would let through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePolicy } from './policy.js';

const problem = (input: Record<string, unknown>) => {
  const r = parsePolicy(input);
  return r.ok ? undefined : r.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
};

test('a scan schedule has five fields, runs at all, and at most hourly', () => {
  for (const ok of ['0 3 * * *', '30 4 * * 1-5', '0 * * * *', '15 2 1 * *']) assert.equal(problem({ scanSchedule: ok }), undefined, ok);
  assert.match(problem({ scanSchedule: '0 3 * * * *' }) ?? '', /^scanSchedule: must have five fields/);
  assert.match(problem({ scanSchedule: '0 0 31 2 *' }) ?? '', /^scanSchedule: never runs/);
  assert.match(problem({ scanSchedule: '* * * * *' }) ?? '', /^scanSchedule: runs more often than once an hour/);
  assert.match(problem({ scanSchedule: '*/30 * * * *' }) ?? '', /more often than once an hour/);
  assert.match(problem({ scanSchedule: 'every day' }) ?? '', /^scanSchedule: must have five fields|not a valid cron/);
});

test('pastDueGraceDays is a whole number of days', () => {
  assert.equal(problem({ pastDueGraceDays: 3 }), undefined);
  assert.match(problem({ pastDueGraceDays: 1.5 }) ?? '', /^pastDueGraceDays: must be a whole number of days/);
  assert.match(problem({ pastDueGraceDays: 400 }) ?? '', /^pastDueGraceDays: must be a number from 0 to 365/);
});
