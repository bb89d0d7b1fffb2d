// The scheduler and the cron route on the real database, with several instances sharing it: each slot runs
// exactly once, a dead run is taken over once, a slot missed while down runs once on start, and the cron route
// starts one scan per UTC day however many calls and instances answer. Time is a manual clock: no sleeps.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/port.js';
import { buildApp } from '../../src/http/app.js';
import { createScheduler, type Schedule, type Scheduler } from '../../src/jobs/scheduler.js';
import { allSchedules, SCAN_SCHEDULE_PREFIX } from '../../src/jobs/schedules.js';
import { ManualClock } from '../../src/lib/clock.js';
import { hashToken } from '../../src/lib/hash.js';
import type { Ctx } from '../../src/services/context.js';
import { createContext } from '../../src/services/create-context.js';
import type { StartScanFn } from '../../src/services/parity/cron-scan.js';
import { scheduleSlots } from '../../src/services/schedules/schedule-slots.js';
import { createWorkspace } from '../../src/services/workspaces/create-workspace.js';
import { createTestStore, openMigrated, type TestStore } from '../helpers/db.js';

const at = (iso: string) => new Date(iso).getTime();
const MASTER_KEY = randomBytes(32).toString('base64');
const SECRET = 'cron_' + randomBytes(16).toString('hex');

function ctxFor(db: Db, now: () => number, config: Record<string, unknown> = {}): Ctx {
  return createContext(loadConfig({}, { port: 0, logLevel: 'silent', ...config }), {
    db,
    masterKey: MASTER_KEY,
    log: pino({ level: 'silent' }),
    now,
  });
}

/** A test schedule that counts its runs per slot, optionally taking a while (so instances overlap). */
function counted(name: string, cron: string, opts: { slowMs?: number; hang?: boolean } = {}) {
  const perSlot = new Map<string, number>();
  let release = () => {};
  const schedule: Schedule = {
    name,
    cron,
    async run(_ctx, s) {
      const key = s.slot.toISOString();
      perSlot.set(key, (perSlot.get(key) ?? 0) + 1);
      if (opts.slowMs) await new Promise((r) => setTimeout(r, opts.slowMs));
      if (opts.hang) await new Promise<void>((r) => (release = r));
      return { slot: key, attempt: s.attempt };
    },
  };
  return { schedule, perSlot, release: () => release() };
}

async function runsOf(db: Db, schedule: string) {
  const { rows } = await db.query<{ slot: Date; owner: string; status: string; attempts: number; result: any; error: string | null }>(
    'SELECT slot, owner, status, attempts, result, error FROM schedule_runs WHERE schedule = $1 ORDER BY slot',
    [schedule],
  );
  return rows;
}

describe('scheduler on one database shared by two instances', () => {
  let store: TestStore;
  let dbA: Db;
  let dbB: Db;
  before(async () => {
    store = await createTestStore();
    dbA = await openMigrated(store);
    dbB = await store.open();
  });
  after(async () => {
    await dbA.close();
    await dbB.close();
    await store.drop();
  });

  test('racing rounds of two instances run every slot exactly once', async () => {
    const clockA = new ManualClock(at('2026-04-01T10:00:30Z'));
    const clockB = new ManualClock(at('2026-04-01T10:00:30Z'));
    const fast = counted('race.fast', '* * * * *');
    const slow = counted('race.slow', '* * * * *', { slowMs: 30 });
    const mk = (db: Db, clock: ManualClock) => createScheduler(ctxFor(db, clock.now), { schedules: [fast.schedule, slow.schedule], clock });
    const a = mk(dbA, clockA);
    const b = mk(dbB, clockB);
    await Promise.all([a.round(), b.round()]);
    for (let minute = 1; minute <= 25; minute++) {
      const t = at('2026-04-01T10:00:00Z') + minute * 60_000 + (minute % 3) * 7;
      await Promise.all([clockA.set(t), clockB.set(t)]);
      await Promise.all([a.round(), b.round()]);
      // A slot still running when the next comes is skipped by design (no pile-up): let each minute finish.
      await Promise.all([a.idle(), b.idle()]);
    }
    for (const job of [fast, slow]) {
      assert.equal(job.perSlot.size, 25, `${job.schedule.name}: one run per minute from 10:01 to 10:25`);
      assert.deepEqual([...new Set(job.perSlot.values())], [1], `${job.schedule.name}: no slot ran twice`);
      const rows = await runsOf(dbA, job.schedule.name);
      assert.equal(rows.length, 25);
      assert.ok(rows.every((r) => r.status === 'succeeded' && r.attempts === 1));
      assert.ok(rows.every((r) => r.owner === a.owner || r.owner === b.owner));
    }
  });

  test('started instances driven by their clocks: the daily slot runs once', async () => {
    const clockA = new ManualClock(at('2026-04-02T02:58:00Z'));
    const clockB = new ManualClock(at('2026-04-02T02:58:00Z'));
    const daily = counted('race.daily', '0 3 * * *', { slowMs: 20 });
    const schedulers: Scheduler[] = [];
    for (const [db, clock] of [
      [dbA, clockA],
      [dbB, clockB],
    ] as const) {
      // Rounds every 6 hours at most besides the slots, so two simulated days take few queries.
      const s = createScheduler(ctxFor(db, clock.now), { schedules: [daily.schedule], clock, pollMs: 6 * 3_600_000 });
      schedulers.push(s);
      await s.start();
    }
    // Both clocks move a day at a time and the instances go idle in between: a manual clock that leapt a day
    // past a slot still running on the other instance would see that run's heartbeat a day old and take it over,
    // which no real clock does (a heartbeat is at most seconds old while its run lives).
    for (const to of ['2026-04-02T03:00:10Z', '2026-04-03T03:00:10Z', '2026-04-04T03:00:10Z', '2026-04-04T03:30:00Z']) {
      await Promise.all([clockA.set(at(to)), clockB.set(at(to))]);
      await Promise.all(schedulers.map((s) => s.idle()));
    }
    assert.deepEqual(Object.fromEntries(daily.perSlot), {
      '2026-04-02T03:00:00.000Z': 1,
      '2026-04-03T03:00:00.000Z': 1,
      '2026-04-04T03:00:00.000Z': 1,
    });
    await Promise.all(schedulers.map((s) => s.stop(1000)));
  });

  test('a run whose instance died is taken over once, by one of two racing instances', async () => {
    const clockA = new ManualClock(at('2026-04-05T02:59:30Z'));
    const dead = counted('takeover.daily', '0 3 * * *', { hang: true });
    const a = createScheduler(ctxFor(dbA, clockA.now), { schedules: [dead.schedule], clock: clockA });
    await a.start();
    await clockA.set(at('2026-04-05T03:00:05Z'));
    assert.equal(dead.perSlot.get('2026-04-05T03:00:00.000Z'), 1);
    await a.stop(0); // "crashes": the run is left running and stops beating

    const t = at('2026-04-05T03:02:00Z');
    const live = counted('takeover.daily', '0 3 * * *');
    const b = createScheduler(
      ctxFor(dbB, () => t),
      { schedules: [live.schedule], clock: new ManualClock(t) },
    );
    const c = createScheduler(
      ctxFor(dbA, () => t),
      { schedules: [live.schedule], clock: new ManualClock(t) },
    );
    const [rb, rc] = await Promise.all([b.round(), c.round()]);
    await Promise.all([b.idle(), c.idle()]);
    // Only this schedule's slot: the built-in prune job that `a` started may have been cut off by its crash as well,
    // and is then taken over too (by either instance), depending on whether its finish landed before the stop.
    const takeovers = [...rb.tookOver, ...rc.tookOver].filter((k) => k.startsWith('takeover.daily@'));
    assert.deepEqual(takeovers, ['takeover.daily@2026-04-05T03:00:00.000Z'], 'exactly one instance takes it over');
    assert.deepEqual(Object.fromEntries(live.perSlot), { '2026-04-05T03:00:00.000Z': 1 });
    const [row] = await runsOf(dbA, 'takeover.daily');
    assert.equal(row!.status, 'succeeded');
    assert.equal(row!.attempts, 2, 'attempts counts the takeover');
    assert.deepEqual(row!.result, { slot: '2026-04-05T03:00:00.000Z', attempt: 2 });
    assert.ok(row!.owner === b.owner || row!.owner === c.owner);
    // The dead instance's run finishing late changes nothing.
    dead.release();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await runsOf(dbA, 'takeover.daily'))[0]!.owner, row!.owner);
  });

  test('a slot missed while every instance was down runs once on start — the latest one only', async () => {
    const clock = new ManualClock(at('2026-04-10T05:59:50Z'));
    const job = counted('missed.daily', '0 6 * * *');
    const a = createScheduler(ctxFor(dbA, clock.now), { schedules: [job.schedule], clock });
    await a.start();
    await clock.set(at('2026-04-10T06:00:01Z'));
    await a.idle();
    await a.stop(0);
    await clock.set(at('2026-04-14T12:00:00Z')); // down for four days
    const b = createScheduler(ctxFor(dbB, clock.now), { schedules: [job.schedule], clock });
    const c = createScheduler(ctxFor(dbA, clock.now), { schedules: [job.schedule], clock });
    await Promise.all([b.start(), c.start()]);
    await Promise.all([b.idle(), c.idle()]);
    assert.deepEqual(Object.fromEntries(job.perSlot), { '2026-04-10T06:00:00.000Z': 1, '2026-04-14T06:00:00.000Z': 1 });
    assert.deepEqual(
      (await runsOf(dbA, 'missed.daily')).map((r) => r.slot.toISOString()),
      ['2026-04-10T06:00:00.000Z', '2026-04-14T06:00:00.000Z'],
    );
    await Promise.all([b.stop(0), c.stop(0)]);
  });

  test('history older than 7 days is pruned; the latest row of each schedule is kept', async () => {
    const slots = scheduleSlots(dbA);
    const owner = 'prune-test';
    for (const iso of ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-20T00:00:00Z']) {
      const slot = new Date(iso);
      assert.equal(await slots.claim({ schedule: 'prune.a', slot, owner, now: slot }), true);
      await slots.finish({ schedule: 'prune.a', slot, owner, now: slot, status: 'succeeded', result: { ok: true } });
    }
    await slots.claim({ schedule: 'prune.b', slot: new Date('2026-01-01T00:00:00Z'), owner, now: new Date('2026-01-01T00:00:00Z') });
    const deleted = await slots.prune(new Date('2026-01-20T00:00:00Z'));
    assert.equal(deleted, 2);
    assert.deepEqual(
      (await runsOf(dbA, 'prune.a')).map((r) => r.slot.toISOString()),
      ['2026-01-20T00:00:00.000Z'],
    );
    assert.equal((await runsOf(dbA, 'prune.b')).length, 1, 'a running row is never pruned');
  });

  test("the workspace scan schedules follow each workspace's policy, and the daily slot starts one scan across instances", async () => {
    const t0 = at('2026-05-01T04:29:00Z');
    const clockA = new ManualClock(t0);
    const clockB = new ManualClock(t0);
    const ctxA = ctxFor(dbA, clockA.now);
    const custom = await createWorkspace(ctxA, { name: 'custom schedule' });
    const plain = await createWorkspace(ctxA, { name: 'default schedule' });
    await dbA.query('INSERT INTO parity_settings (workspace_id, policy) VALUES ($1, $2)', [
      custom.id,
      JSON.stringify({ scanSchedule: '30 4 * * *' }),
    ]);
    const started: { workspaceId: string; startedBy: string }[] = [];
    const fakeStart: StartScanFn = async (_ctx, req) => {
      started.push({ workspaceId: req.workspaceId, startedBy: req.startedBy });
      return { runId: `run_${started.length}`, alreadyRunning: false };
    };
    const list = await allSchedules(ctxA, fakeStart);
    const byName = new Map(list.map((s) => [s.name, s.cron]));
    assert.equal(byName.get(`${SCAN_SCHEDULE_PREFIX}${custom.id}`), '30 4 * * *');
    assert.equal(byName.get(`${SCAN_SCHEDULE_PREFIX}${plain.id}`), '0 3 * * *');
    for (const name of ['parity.sweep', 'ops.lag-sample', 'parity.scan-resume']) assert.equal(byName.get(name), '* * * * *');

    // Only the scan schedules (the every-minute ones call other parts of the system).
    const scansOnly = (ctx: Ctx) => async () => (await allSchedules(ctx, fakeStart)).filter((s) => s.name.startsWith(SCAN_SCHEDULE_PREFIX));
    const a = createScheduler(ctxA, { schedules: scansOnly(ctxA), clock: clockA });
    const ctxB = ctxFor(dbB, clockB.now);
    const b = createScheduler(ctxB, { schedules: scansOnly(ctxB), clock: clockB });
    await Promise.all([a.start(), b.start()]);
    await Promise.all([clockA.set(at('2026-05-01T04:31:00Z')), clockB.set(at('2026-05-01T04:31:00Z'))]);
    await Promise.all([a.idle(), b.idle()]);
    assert.deepEqual(started, [{ workspaceId: custom.id, startedBy: 'schedule' }]);
    const [row] = await runsOf(dbA, `${SCAN_SCHEDULE_PREFIX}${custom.id}`);
    assert.deepEqual(row!.result, { runId: 'run_1', alreadyRunning: false });
    await Promise.all([a.stop(0), b.stop(0)]);
  });
});

describe('cron route', () => {
  let store: TestStore;
  let dbA: Db;
  let dbB: Db;
  let now = at('2026-06-01T08:00:00Z');
  const calls: { workspaceId: string; startedBy: string }[] = [];
  // Takes a moment, so concurrent calls really overlap while the first one is starting the scans.
  const fakeStart: StartScanFn = async (_ctx, req) => {
    calls.push({ workspaceId: req.workspaceId, startedBy: req.startedBy });
    await new Promise((r) => setTimeout(r, 40));
    return { runId: `chk_${calls.length}`, alreadyRunning: false };
  };
  const apps: FastifyInstance[] = [];
  const urls: string[] = [];
  let workspaces: string[] = [];

  async function startApp(db: Db, config: Record<string, unknown>): Promise<string> {
    const ctx = ctxFor(db, () => now, config);
    const app = await buildApp({ ctx, admin: { hashes: [hashToken('admin_' + randomBytes(8).toString('hex'))] }, startScan: fakeStart });
    await app.listen({ port: 0, host: '127.0.0.1' });
    apps.push(app);
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    return `http://127.0.0.1:${address.port}`;
  }

  // auth '' sends no Authorization header.
  const call = async (url: string, method = 'GET', auth = `Bearer ${SECRET}`, body?: string) => {
    const res = await fetch(`${url}/api/v1/cron/scan`, {
      method,
      headers: { ...(auth ? { authorization: auth } : {}), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(body ? { body } : {}),
    });
    return { status: res.status, body: (await res.json()) as any, retryAfter: res.headers.get('retry-after') };
  };

  before(async () => {
    store = await createTestStore();
    dbA = await openMigrated(store);
    dbB = await store.open();
    urls.push(await startApp(dbA, { cronSecret: SECRET }), await startApp(dbB, { cronSecret: SECRET }), await startApp(dbA, {}));
    const ctx = ctxFor(dbA, () => now);
    workspaces = [(await createWorkspace(ctx, { name: 'one' })).id, (await createWorkspace(ctx, { name: 'two' })).id].sort();
  });
  after(async () => {
    for (const app of apps) await app.close();
    await dbA.close();
    await dbB.close();
    await store.drop();
  });

  test('a secret shorter than 16 characters refuses to start; a long one loads', () => {
    assert.throws(
      () => loadConfig({ SLUICE_CRON_SECRET: 'short-secret' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /SLUICE_CRON_SECRET must be 16 to 1024 characters/.test(err.message) &&
        !err.message.includes('short-secret'),
    );
    assert.equal(loadConfig({ SLUICE_CRON_SECRET: SECRET }).cronSecret, SECRET);
  });

  test('404 while no secret is configured, whatever the header', async () => {
    for (const auth of ['', `Bearer ${SECRET}`]) {
      const r = await call(urls[2]!, 'GET', auth);
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'CRON_NOT_CONFIGURED');
    }
    assert.equal(calls.length, 0);
  });

  test('401 without the secret or with a wrong one; nothing is started', async () => {
    for (const auth of ['', 'Bearer', `Bearer ${SECRET}x`, `Basic ${SECRET}`, SECRET, `Bearer ${SECRET.slice(0, -1)}`]) {
      const r = await call(urls[0]!, 'POST', auth);
      assert.equal(r.status, 401, auth);
      assert.equal(r.body.error.code, 'UNAUTHORIZED');
      assert.ok(!JSON.stringify(r.body).includes(SECRET.slice(5)), 'the answer never echoes the secret');
    }
    // A HEAD (uptime checkers send them) starts nothing, even with the secret.
    const head = await fetch(`${urls[0]}/api/v1/cron/scan`, { method: 'HEAD', headers: { authorization: `Bearer ${SECRET}` } });
    assert.equal(head.status, 404);
    assert.equal(calls.length, 0);
    assert.equal((await runsOf(dbA, 'cron.scan')).length, 0);
  });

  test('first call of the day 202 with every run id; repeats (GET or POST, either instance) 200 alreadyRunning', async () => {
    now = at('2026-06-02T00:00:05Z');
    const first = await call(urls[0]!, 'GET');
    assert.equal(first.status, 202);
    assert.deepEqual(first.body, { runId: 'chk_1', runIds: ['chk_1', 'chk_2'], alreadyRunning: false });
    assert.deepEqual(
      calls,
      workspaces.map((workspaceId) => ({ workspaceId, startedBy: 'cron' })),
    );
    now = at('2026-06-02T23:59:59Z');
    for (const [url, method, body] of [
      [urls[0]!, 'POST', undefined],
      [urls[1]!, 'GET', undefined],
      [urls[1]!, 'POST', 'anything=at-all'],
    ] as const) {
      const again = await call(url, method, `Bearer ${SECRET}`, body);
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { runId: 'chk_1', runIds: ['chk_1', 'chk_2'], alreadyRunning: true });
    }
    assert.equal(calls.length, 2, 'no scan started by a repeat');
    const [row] = await runsOf(dbA, 'cron.scan');
    assert.equal(row!.status, 'succeeded');
    assert.deepEqual(row!.result, { runIds: ['chk_1', 'chk_2'] });
    // The next UTC day starts again.
    now = at('2026-06-03T00:00:01Z');
    const next = await call(urls[1]!, 'POST');
    assert.equal(next.status, 202);
    assert.deepEqual(next.body.runIds, ['chk_3', 'chk_4']);
  });

  test('concurrent calls on one instance and on two instances: exactly one starts the scans', async () => {
    for (const [day, targets] of [
      ['2026-06-10', [urls[0]!, urls[0]!, urls[0]!, urls[0]!]],
      ['2026-06-11', [urls[0]!, urls[1]!, urls[0]!, urls[1]!, urls[1]!, urls[0]!]],
    ] as const) {
      now = at(`${day}T03:00:00Z`);
      const before = calls.length;
      const answers = await Promise.all(targets.map((u, i) => call(u, i % 2 ? 'POST' : 'GET')));
      const statuses = answers.map((a) => a.status);
      assert.equal(statuses.filter((s) => s === 202).length, 1, `${day}: ${statuses}`);
      assert.equal(statuses.filter((s) => s === 200).length, targets.length - 1, `${day}: ${statuses}`);
      assert.equal(calls.length - before, workspaces.length, `${day}: one scan per workspace`);
      const runIds = answers.find((a) => a.status === 202)!.body.runIds;
      for (const a of answers) assert.deepEqual(a.body.runIds, runIds, 'every answer names the same runs');
    }
  });

  test('a claimant that died before storing its run ids is taken over by the next call', async () => {
    now = at('2026-06-20T10:00:00Z');
    const slots = scheduleSlots(dbA);
    await slots.claim({ schedule: 'cron.scan', slot: new Date('2026-06-20T00:00:00Z'), owner: 'dead', now: new Date(now) });
    now += 61_000;
    const before = calls.length;
    const r = await call(urls[1]!, 'POST');
    assert.equal(r.status, 202);
    assert.equal(calls.length - before, workspaces.length);
    const row = (await runsOf(dbA, 'cron.scan')).find((x) => x.slot.toISOString() === '2026-06-20T00:00:00.000Z');
    assert.equal(row!.attempts, 2);
    assert.equal(row!.status, 'succeeded');
  });

  test('failed attempts from one address are rate-limited (429 with Retry-After), the right secret included', async () => {
    now = at('2026-07-01T10:00:00Z');
    for (let i = 0; i < 10; i++) assert.equal((await call(urls[1]!, 'GET', 'Bearer wrong-wrong-wrong')).status, 401);
    const limited = await call(urls[1]!, 'GET');
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'TOO_MANY_ATTEMPTS');
    assert.ok(Number(limited.retryAfter) > 0);
    now += 61_000;
    assert.equal((await call(urls[1]!, 'GET')).status, 202);
  });
});
