import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assembleSeries, bucketIndex, missingRuns, parseRange, planRange, ROLLUP_GRACE_SECONDS } from './overview-buckets.js';

const H = 3600;
// 2026-03-10 12:34:56 UTC
const NOW = Date.UTC(2026, 2, 10, 12, 34, 56);
const nowS = Math.floor(NOW / 1000);
const hourStart = Math.floor(nowS / H) * H;

test('parseRange: the three ranges, anything else is the hour', () => {
  assert.equal(parseRange('day'), 'day');
  assert.equal(parseRange('week'), 'week');
  assert.equal(parseRange('hour'), 'hour');
  assert.equal(parseRange('year'), 'hour');
  assert.equal(parseRange(['day']), 'hour');
  assert.equal(parseRange(undefined), 'hour');
});

test('hour: 60 minute buckets ending with the current minute, all live, nothing rolled up', () => {
  const p = planRange('hour', NOW);
  assert.equal(p.starts.length, 60);
  assert.equal(p.bucketSeconds, 60);
  assert.equal(p.starts[59], Math.floor(nowS / 60) * 60);
  assert.equal(p.starts[0], p.starts[59]! - 59 * 60);
  assert.deepEqual(p.rolledHours, []);
  assert.equal(p.liveFrom, p.starts[0]);
  assert.ok(p.liveTo > nowS);
});

test('day and week: hourly buckets; whole hours that ended more than the grace ago come from rollups', () => {
  const d = planRange('day', NOW);
  assert.equal(d.starts.length, 24);
  assert.equal(d.starts[23], hourStart);
  // 12:34: the 11:00 hour ended 34 minutes ago (> 10 min grace): rolled; the current hour is live.
  assert.equal(d.rolledHours.length, 23);
  assert.equal(d.rolledHours[22], hourStart - H);
  assert.equal(d.liveFrom, hourStart);

  // 12:05: the 11:00 hour ended only 5 minutes ago: it is computed live with the current one.
  const early = planRange('day', Date.UTC(2026, 2, 10, 12, 5, 0));
  assert.ok(5 * 60 < ROLLUP_GRACE_SECONDS);
  assert.equal(early.rolledHours.length, 22);
  assert.equal(early.liveFrom, hourStart - H);

  const w = planRange('week', NOW);
  assert.equal(w.starts.length, 168);
  assert.equal(w.rolledHours.length, 167);
  assert.equal(w.starts[0], hourStart - 167 * H);
});

test('missingRuns: the hours not yet computed, grouped in consecutive runs', () => {
  const hours = [0, 1, 2, 3, 4, 5].map((i) => i * H);
  assert.deepEqual(missingRuns(hours, new Set()), [{ from: 0, to: 6 * H }]);
  assert.deepEqual(missingRuns(hours, new Set([2 * H, 3 * H])), [
    { from: 0, to: 2 * H },
    { from: 4 * H, to: 6 * H },
  ]);
  assert.deepEqual(missingRuns(hours, new Set(hours)), []);
});

test('bucketIndex clamps times just outside the range to its ends', () => {
  const p = { starts: [100, 160, 220], bucketSeconds: 60 };
  assert.equal(bucketIndex(p, 100), 0);
  assert.equal(bucketIndex(p, 219), 1);
  assert.equal(bucketIndex(p, 99), 0);
  assert.equal(bucketIndex(p, 400), 2);
});

test('assembleSeries merges live buckets and stored rollups, per provider, with lag means and success rates', () => {
  const plan = planRange('day', NOW);
  const first = plan.starts[0]!;
  const s = assembleSeries(
    plan,
    {
      events: [
        { t: hourStart, provider: 'stripe', received: 5, processed: 4, lagSeconds: 2 },
        { t: hourStart, provider: 'piano', received: 1, processed: 0, lagSeconds: 0 },
      ],
      attempts: [{ t: hourStart, attempts: 4, succeeded: 3 }],
    },
    [
      { hour: first, metric: 'received:stripe', n: 10, total: 0 },
      { hour: first, metric: 'lag:stripe', n: 10, total: 5 },
      { hour: first, metric: 'received:custom', n: 2, total: 0 },
      { hour: first + H, metric: 'attempts', n: 2, total: 0 },
    ],
  );
  assert.deepEqual(s.providers, ['stripe', 'piano', 'custom']);
  assert.equal(s.received[0]![0], 10);
  assert.equal(s.received[0]![23], 5);
  assert.equal(s.received[1]![23], 1);
  assert.equal(s.received[2]![0], 2);
  assert.equal(s.lagSeconds[0], 0.5);
  assert.equal(s.lagSeconds[23], 0.5);
  assert.equal(s.lagSeconds[5], null, 'no processed event: a gap, not zero');
  assert.equal(s.successPercent[23], 75);
  assert.equal(s.successPercent[1], 0);
  assert.equal(s.successPercent[2], null);
  assert.deepEqual(s.totals, {
    received: 18,
    byProvider: { stripe: 15, piano: 1, custom: 2 },
    processed: 14,
    meanLagSeconds: 0.5,
    attempts: 6,
    succeeded: 3,
  });
});

test('assembleSeries always lists Stripe and Piano, with zeros when nothing came', () => {
  const s = assembleSeries(planRange('hour', NOW), { events: [], attempts: [] }, []);
  assert.deepEqual(s.providers, ['stripe', 'piano']);
  assert.equal(s.received[0]!.length, 60);
  assert.equal(s.totals.received, 0);
  assert.equal(s.totals.meanLagSeconds, null);
});
