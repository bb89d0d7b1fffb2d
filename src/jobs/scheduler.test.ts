// The scheduler's decisions with a manual clock and an in-memory stand-in for the schedule_runs rows (the same
// protocol on the real database, with two instances racing, is in test/integration/scheduler.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../lib/clock.js';
import type { Ctx } from '../services/context.js';
import type { ScheduleRunRow, ScheduleSlots } from '../services/schedules/schedule-slots.js';
import { createScheduler, cronOf, latestSlot, nextSlot, PRUNE_SCHEDULE, type Schedule } from './scheduler.js';

/** schedule_runs in memory, with the semantics of the SQL in src/db/queries/schedule-runs.ts. */
function memorySlots() {
  const rows = new Map<string, ScheduleRunRow>();
  const k = (s: string, slot: Date) => `${s}@${slot.toISOString()}`;
  const slots: ScheduleSlots = {
    async claim(c) {
      if (rows.has(k(c.schedule, c.slot))) return false;
      if (
        c.unlessRunningSince &&
        [...rows.values()].some(
          (r) => r.schedule === c.schedule && r.slot < c.slot && r.status === 'running' && r.heartbeatAt >= c.unlessRunningSince!,
        )
      )
        return false;
      rows.set(k(c.schedule, c.slot), {
        schedule: c.schedule,
        slot: c.slot,
        owner: c.owner,
        status: 'running',
        attempts: 1,
        startedAt: c.now,
        heartbeatAt: c.now,
        finishedAt: null,
        result: null,
        error: null,
      });
      return true;
    },
    async beat(b) {
      const r = rows.get(k(b.schedule, b.slot));
      if (!r || r.owner !== b.owner || r.status !== 'running') return false;
      r.heartbeatAt = b.now;
      return true;
    },
    async finish(e) {
      const r = rows.get(k(e.schedule, e.slot));
      if (!r || r.owner !== e.owner || r.status !== 'running') return false;
      Object.assign(r, { status: e.status, finishedAt: e.now, result: e.result ?? null, error: e.error ?? null });
      return true;
    },
    async setResult(key, result) {
      const r = rows.get(k(key.schedule, key.slot));
      if (!r) return false;
      r.result = result;
      return true;
    },
    find: async (s, slot) => rows.get(k(s, slot)),
    ranBefore: async (s, slot) => [...rows.values()].some((r) => r.schedule === s && r.slot < slot),
    listStale: async (before) => [...rows.values()].filter((r) => r.status === 'running' && r.heartbeatAt < before),
    async takeOver(t) {
      const r = rows.get(k(t.schedule, t.slot));
      if (!r || r.status !== 'running' || !(r.heartbeatAt < t.staleBefore) || r.attempts >= t.maxAttempts) return undefined;
      Object.assign(r, { owner: t.owner, attempts: r.attempts + 1, heartbeatAt: t.now });
      return { ...r };
    },
    async abandon(a) {
      const r = rows.get(k(a.schedule, a.slot));
      if (!r || r.status !== 'running' || !(r.heartbeatAt < a.staleBefore)) return false;
      Object.assign(r, { status: 'failed', finishedAt: a.now, error: a.error });
      return true;
    },
    retryFailed: async () => undefined,
    async prune(before) {
      let n = 0;
      for (const [key, r] of rows) {
        const latest = Math.max(...[...rows.values()].filter((x) => x.schedule === r.schedule).map((x) => x.slot.getTime()));
        if (r.slot < before && r.status !== 'running' && r.slot.getTime() < latest) {
          rows.delete(key);
          n++;
        }
      }
      return n;
    },
    list: async () => [...rows.values()],
  };
  return { slots, rows, of: (s: string) => [...rows.values()].filter((r) => r.schedule === s).sort((a, b) => +a.slot - +b.slot) };
}

const silent = pino({ level: 'silent' });
const ctxOf = (clock: ManualClock) => ({ log: silent, now: clock.now }) as unknown as Ctx;
const at = (iso: string) => new Date(iso).getTime();

function counter(name: string, cron: string, body?: (n: number) => Promise<unknown>) {
  const runs: { slot: string; attempt: number }[] = [];
  const schedule: Schedule = {
    name,
    cron,
    async run(_ctx, s) {
      runs.push({ slot: s.slot.toISOString(), attempt: s.attempt });
      return body ? body(runs.length) : { n: runs.length };
    },
  };
  return { schedule, runs };
}

describe('cron slots (UTC)', () => {
  test('the latest slot at or before now, and the next one after it', () => {
    const daily = cronOf('0 3 * * *');
    assert.ok(!(daily instanceof Error));
    assert.equal(latestSlot(daily, at('2026-03-10T03:00:00Z'))?.toISOString(), '2026-03-10T03:00:00.000Z');
    assert.equal(latestSlot(daily, at('2026-03-10T02:59:59.999Z'))?.toISOString(), '2026-03-09T03:00:00.000Z');
    assert.equal(nextSlot(daily, at('2026-03-10T03:00:00Z'))?.toISOString(), '2026-03-11T03:00:00.000Z');
    const minutely = cronOf('* * * * *');
    assert.ok(!(minutely instanceof Error));
    assert.equal(latestSlot(minutely, at('2026-03-10T10:05:59.999Z'))?.toISOString(), '2026-03-10T10:05:00.000Z');
    assert.equal(nextSlot(minutely, at('2026-03-10T10:05:00Z'))?.toISOString(), '2026-03-10T10:06:00.000Z');
  });

  test('an invalid expression is an error value, not a throw', () => {
    assert.ok(cronOf('61 * * * *') instanceof Error);
    assert.ok(cronOf('not a cron') instanceof Error);
  });
});

describe('scheduler (manual clock)', () => {
  test('runs each slot once as the clock passes it; nothing on a first start with no history', async () => {
    const clock = new ManualClock(at('2026-03-10T10:00:30Z'));
    const mem = memorySlots();
    const job = counter('t.minute', '* * * * *');
    const s = createScheduler(ctxOf(clock), { schedules: [job.schedule], clock, slots: mem.slots });
    await s.start();
    assert.equal(job.runs.length, 0, 'a schedule never run before waits for its next slot');
    await clock.set(at('2026-03-10T10:03:10Z'));
    await s.idle();
    assert.deepEqual(
      job.runs.map((r) => r.slot),
      ['2026-03-10T10:01:00.000Z', '2026-03-10T10:02:00.000Z', '2026-03-10T10:03:00.000Z'],
    );
    const rows = mem.of('t.minute');
    assert.deepEqual(
      rows.map((r) => [r.status, r.result]),
      [
        ['succeeded', { n: 1 }],
        ['succeeded', { n: 2 }],
        ['succeeded', { n: 3 }],
      ],
    );
    await s.stop(0);
  });

  test('a late round runs only the latest slot, never a backlog', async () => {
    const clock = new ManualClock(at('2026-03-10T10:00:30Z'));
    const mem = memorySlots();
    const job = counter('t.minute', '* * * * *');
    const s = createScheduler(ctxOf(clock), { schedules: [job.schedule], clock, slots: mem.slots });
    await s.round(); // not started: no timers, the test calls rounds itself
    await clock.set(at('2026-03-10T10:09:30Z'));
    await s.round();
    await s.idle();
    assert.deepEqual(
      job.runs.map((r) => r.slot),
      ['2026-03-10T10:09:00.000Z'],
    );
  });

  test('a slot missed while down runs once on start: only the latest one', async () => {
    const clock = new ManualClock(at('2026-03-10T02:59:00Z'));
    const mem = memorySlots();
    const job = counter('t.daily', '0 3 * * *');
    const a = createScheduler(ctxOf(clock), { schedules: [job.schedule], clock, slots: mem.slots });
    await a.start();
    await clock.set(at('2026-03-10T03:00:01Z'));
    await a.idle();
    await a.stop(0);
    assert.deepEqual(
      job.runs.map((r) => r.slot),
      ['2026-03-10T03:00:00.000Z'],
    );
    // Down for three days: the slots of the 11th, 12th and 13th are missed.
    await clock.set(at('2026-03-13T09:00:00Z'));
    const b = createScheduler(ctxOf(clock), { schedules: [job.schedule], clock, slots: mem.slots });
    await b.start();
    await b.idle();
    assert.deepEqual(
      job.runs.map((r) => r.slot),
      ['2026-03-10T03:00:00.000Z', '2026-03-13T03:00:00.000Z'],
    );
    // Another restart the same day runs nothing again; the next slot runs at its time.
    await b.stop(0);
    const c = createScheduler(ctxOf(clock), { schedules: [job.schedule], clock, slots: mem.slots });
    await c.start();
    await c.idle();
    assert.equal(job.runs.length, 2);
    await clock.set(at('2026-03-14T03:00:30Z'));
    await c.idle();
    assert.deepEqual(job.runs.at(-1), { slot: '2026-03-14T03:00:00.000Z', attempt: 1 });
    await c.stop(0);
  });

  test('heartbeats while a slot runs; a dead run is taken over while it is the latest slot, attempts bounded', async () => {
    const clock = new ManualClock(at('2026-03-10T02:59:00Z'));
    const mem = memorySlots();
    let release: (() => void) | undefined;
    const hang = () => new Promise<void>((r) => (release = r));
    // Instance A hangs (as if it crashed mid-run: it never finishes and, once stopped, never beats again).
    const jobA = counter('t.daily', '0 3 * * *', () => hang().then(() => 'late'));
    const a = createScheduler(ctxOf(clock), {
      schedules: [jobA.schedule],
      clock,
      slots: mem.slots,
      heartbeatMs: 10_000,
      staleAfterMs: 60_000,
    });
    await a.start();
    await clock.set(at('2026-03-10T03:00:00.100Z'));
    await a.round();
    assert.equal(jobA.runs.length, 1);
    await clock.advance(35_000);
    const row = mem.of('t.daily')[0]!;
    assert.equal(row.status, 'running');
    assert.ok(row.heartbeatAt.getTime() >= at('2026-03-10T03:00:30Z'), 'heartbeats move heartbeat_at');
    await a.stop(0); // past the deadline: its beats stop, the row is left for a takeover
    const beatAtStop = mem.of('t.daily')[0]!.heartbeatAt.getTime();

    const jobB = counter('t.daily', '0 3 * * *');
    const b = createScheduler(ctxOf(clock), { schedules: [jobB.schedule], clock, slots: mem.slots, staleAfterMs: 60_000 });
    await b.start();
    await b.idle();
    assert.equal(jobB.runs.length, 0, 'a run beating 60 s ago is not dead yet');
    await clock.set(beatAtStop + 61_000);
    await b.round();
    await b.idle();
    assert.deepEqual(jobB.runs, [{ slot: '2026-03-10T03:00:00.000Z', attempt: 2 }]);
    const after = mem.of('t.daily')[0]!;
    assert.equal(after.status, 'succeeded');
    assert.equal(after.attempts, 2);
    assert.equal(after.owner, b.owner);
    // The hung first run finishing late records nothing: the slot is no longer its owner's.
    release?.();
    await new Promise((r) => setImmediate(r));
    assert.equal(mem.of('t.daily')[0]!.status, 'succeeded');
    assert.deepEqual(mem.of('t.daily')[0]!.result, { n: 1 });
    await b.stop(0);
  });

  test('a dead run is given up once attempts are used up, or when a later slot has come', async () => {
    const clock = new ManualClock(at('2026-03-10T03:00:10Z'));
    const mem = memorySlots();
    const slot = new Date('2026-03-10T03:00:00Z');
    const dead = (schedule: string, s: Date, attempts: number) =>
      mem.rows.set(`${schedule}@${s.toISOString()}`, {
        schedule,
        slot: s,
        owner: 'gone',
        status: 'running',
        attempts,
        startedAt: s,
        heartbeatAt: s,
        finishedAt: null,
        result: null,
        error: null,
      });
    dead('t.daily', slot, 3);
    dead('t.minute', new Date('2026-03-10T03:00:00Z'), 1);
    dead('t.gone', slot, 1);
    const daily = counter('t.daily', '0 3 * * *');
    const minute = counter('t.minute', '* * * * *');
    const s = createScheduler(ctxOf(clock), { schedules: [daily.schedule, minute.schedule], clock, slots: mem.slots, maxAttempts: 3 });
    await s.round();
    await clock.set(at('2026-03-10T03:02:30Z'));
    const report = await s.round();
    await s.idle();
    assert.equal(daily.runs.length, 0);
    assert.match(mem.of('t.daily')[0]!.error!, /given up after 3 attempts/);
    assert.equal(mem.of('t.daily')[0]!.status, 'failed');
    const minuteRows = mem.of('t.minute');
    assert.equal(minuteRows[0]!.status, 'failed');
    assert.match(minuteRows[0]!.error!, /later slot/);
    assert.deepEqual(
      minute.runs.map((r) => r.slot),
      ['2026-03-10T03:02:00.000Z'],
      'the superseded slot is not replayed; the current one runs',
    );
    assert.equal(mem.of('t.gone')[0]!.status, 'failed');
    assert.equal(report.abandoned.length, 3);
  });

  test('a slow run of a schedule does not pile up: slots passing meanwhile are skipped, not queued', async () => {
    const clock = new ManualClock(at('2026-03-10T10:00:30Z'));
    const mem = memorySlots();
    let release: (() => void) | undefined;
    const job = counter('t.minute', '* * * * *', (n) => (n === 1 ? new Promise((r) => (release = () => r('slow'))) : Promise.resolve(n)));
    const s = createScheduler(ctxOf(clock), { schedules: [job.schedule], clock, slots: mem.slots });
    await s.start();
    await clock.set(at('2026-03-10T10:01:01Z'));
    await clock.set(at('2026-03-10T10:03:30Z'));
    assert.equal(job.runs.length, 1);
    release?.();
    await s.idle();
    await clock.set(at('2026-03-10T10:04:01Z'));
    await s.idle();
    assert.deepEqual(
      job.runs.map((r) => r.slot),
      ['2026-03-10T10:01:00.000Z', '2026-03-10T10:04:00.000Z'],
    );
    await s.stop(0);
  });

  test('a failing job records its error; schedules read at each round; a bad cron is skipped, others run', async () => {
    const clock = new ManualClock(at('2026-03-10T10:00:30Z'));
    const mem = memorySlots();
    const ok = counter('t.ok', '* * * * *');
    const failing: Schedule = {
      name: 't.fail',
      cron: '* * * * *',
      run: async () => {
        throw new Error('boom');
      },
    };
    const bad: Schedule = { name: 't.bad', cron: 'every day', run: async () => assert.fail('never runs') };
    let list: Schedule[] = [failing, bad];
    const s = createScheduler(ctxOf(clock), { schedules: async () => list, clock, slots: mem.slots });
    await s.start();
    await clock.set(at('2026-03-10T10:01:01Z'));
    await s.idle();
    assert.equal(mem.of('t.fail')[0]!.status, 'failed');
    assert.equal(mem.of('t.fail')[0]!.error, 'boom');
    list = [failing, bad, ok.schedule];
    // Seen first at the 10:01:30 round (after its 10:01 slot): it waits for 10:02.
    await clock.set(at('2026-03-10T10:02:01Z'));
    await s.idle();
    assert.deepEqual(
      ok.runs.map((r) => r.slot),
      ['2026-03-10T10:02:00.000Z'],
    );
    assert.equal(mem.of('t.bad').length, 0);
    await s.stop(0);
  });

  test('history older than 7 days is pruned hourly, keeping each schedule’s latest row', async () => {
    const clock = new ManualClock(at('2026-03-01T00:00:30Z'));
    const mem = memorySlots();
    const daily = counter('t.daily', '0 0 * * *');
    const old = (schedule: string, iso: string) =>
      mem.rows.set(`${schedule}@${iso}`, {
        schedule,
        slot: new Date(iso),
        owner: 'x',
        status: 'succeeded',
        attempts: 1,
        startedAt: new Date(iso),
        heartbeatAt: new Date(iso),
        finishedAt: new Date(iso),
        result: null,
        error: null,
      });
    old('t.old', '2026-02-01T00:00:00.000Z');
    old('t.old', '2026-02-02T00:00:00.000Z');
    const s = createScheduler(ctxOf(clock), { schedules: [daily.schedule], clock, slots: mem.slots, pollMs: 86_400_000 });
    await s.start();
    await clock.set(at('2026-03-10T01:20:00Z'));
    await s.idle();
    assert.deepEqual(
      mem.of('t.old').map((r) => r.slot.toISOString()),
      ['2026-02-02T00:00:00.000Z'],
    );
    const kept = mem.of('t.daily').map((r) => r.slot.toISOString());
    assert.equal(kept[0], '2026-03-04T00:00:00.000Z', 'slots older than 7 days (before 03-03 01:17) are gone');
    assert.equal(kept.at(-1), '2026-03-10T00:00:00.000Z');
    assert.ok(mem.of(PRUNE_SCHEDULE).length > 0);
    await s.stop(0);
  });
});
