// The scheduler: runs named jobs on cron schedules (UTC) in every worker process, each slot exactly once
// across all the instances that share the database.
//
// - A slot is claimed by inserting its schedule_runs row (INSERT … ON CONFLICT DO NOTHING): the instance whose
//   row lands runs it; the row records how it ended (status, result, error) and is the run history.
// - The owner heartbeats the row while the slot runs. A running row whose heartbeat stopped (its instance
//   crashed or hangs) is taken over by another instance (attempts + 1, at most maxAttempts in all) while it is
//   still the schedule's latest slot; a later slot supersedes it instead, so a crash never replays stale work.
// - Only the latest slot at or before now is ever run: a timer that fires late, or a process that was down for
//   days, runs the last slot it missed once, never a backlog. On its first look at a schedule a process runs
//   that latest slot only if it was missed while down: the schedule has an earlier run and this slot has none.
//   A schedule seen for the first time (a new workspace, a fresh install) waits for its next slot.
// - A new slot is not started while an earlier slot of the same schedule still runs with a live heartbeat, so
//   a slow every-minute job does not pile up runs of itself.
// - Time comes from an injected clock (now and timers), so tests drive it without sleeping.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Cron } from 'croner';
import { systemClock, type Clock, type Timer } from '../lib/clock.js';
import type { Ctx } from '../services/context.js';
import { scheduleSlots, type ScheduleSlots } from '../services/schedules/schedule-slots.js';

export interface SlotRun {
  schedule: string;
  slot: Date;
  /** 1 for the first run of the slot, 2+ after a takeover. */
  attempt: number;
  /** Aborted when the slot stopped being this instance's (taken over) or at shutdown past the deadline. */
  signal: AbortSignal;
}

export interface Schedule {
  /** Unique name, also the schedule_runs key (e.g. `parity.sweep`, `parity.scan:ws_…`). */
  name: string;
  /** Five- or six-field cron expression, evaluated in UTC. */
  cron: string;
  /** The work of one slot; what it returns (JSON) is stored as the run's result. */
  run(ctx: Ctx, slot: SlotRun): Promise<unknown>;
}

export interface SchedulerOptions {
  /** The schedules, or a function that lists them at each round (they may change: workspaces come and go). */
  schedules: Schedule[] | (() => Promise<Schedule[]>);
  /** Defaults to the real clock reading ctx.now. */
  clock?: Clock;
  /** This instance's name in schedule_runs.owner; a unique one is made otherwise. */
  owner?: string;
  /** How often a running slot's row is touched; default 10 s. */
  heartbeatMs?: number;
  /** A running slot whose heartbeat is older than this is taken over; default 60 s (six missed beats). */
  staleAfterMs?: number;
  /** Runs of one slot in all (the first plus takeovers) before it is given up as failed; default 3. */
  maxAttempts?: number;
  /** The longest wait between two rounds (takeovers, changed schedules are noticed at a round); default 30 s. */
  pollMs?: number;
  /** Days of schedule_runs history kept; default 7. */
  keepDays?: number;
  /** The slot rows, for tests that stand them in; the database's otherwise. */
  slots?: ScheduleSlots;
}

export interface RoundReport {
  /** `name@slotISO` of the slots this instance claimed (started) in the round. */
  started: string[];
  /** `name@slotISO` of stale slots it took over. */
  tookOver: string[];
  /** `name@slotISO` of stale slots it gave up (superseded, out of attempts, or no longer scheduled). */
  abandoned: string[];
}

export interface Scheduler {
  readonly owner: string;
  /** Runs a first round now (resolved when it is done), then a round at each slot and at least every pollMs. */
  start(): Promise<void>;
  /** One round: claim the due slots, take over dead runs. Rounds never overlap (a second call joins the first). */
  round(): Promise<RoundReport>;
  /** Resolves when the slots this instance is running have finished. */
  idle(): Promise<void>;
  /** Stops scheduling; slots in flight get timeoutMs to finish, then are left for another instance to take over. */
  stop(timeoutMs: number): Promise<void>;
}

/** The built-in schedule that keeps schedule_runs to keepDays (hourly, at a minute no other job uses). */
export const PRUNE_SCHEDULE = 'schedule-runs.prune';

const cronCache = new Map<string, Cron | Error>();

/** The compiled UTC cron of an expression (cached), or the error that makes it invalid. */
export function cronOf(expression: string): Cron | Error {
  let c = cronCache.get(expression);
  if (!c) {
    try {
      c = new Cron(expression, { paused: true, timezone: 'UTC' });
    } catch (err) {
      c = err instanceof Error ? err : new Error(String(err));
    }
    if (cronCache.size > 1000) cronCache.clear();
    cronCache.set(expression, c);
  }
  return c;
}

/** The latest slot at or before `now` (milliseconds), or undefined if the expression never fired before. */
export function latestSlot(cron: Cron, now: number): Date | undefined {
  // previousRuns is strictly before its reference; +1 ms makes a slot exactly at `now` count as due.
  return cron.previousRuns(1, new Date(now + 1))[0];
}

/** The first slot strictly after `now`, or undefined when there is none. */
export function nextSlot(cron: Cron, now: number): Date | undefined {
  return cron.nextRun(new Date(now)) ?? undefined;
}

const ERROR_MAX = 2000;
const RESULT_MAX = 64 * 1024;

function storableResult(result: unknown): unknown {
  if (result === undefined) return null;
  try {
    const text = JSON.stringify(result);
    if (text === undefined) return null;
    return text.length > RESULT_MAX ? { truncated: true, bytes: text.length } : (JSON.parse(text) as unknown);
  } catch {
    return { unserializable: true };
  }
}

const slotKey = (name: string, slot: Date) => `${name}@${slot.toISOString()}`;

export function createScheduler(ctx: Ctx, opts: SchedulerOptions): Scheduler {
  const clock = opts.clock ?? systemClock(ctx.now);
  const slots = opts.slots ?? scheduleSlots(ctx.db);
  const owner = opts.owner ?? `${hostname().slice(0, 60)}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const heartbeatMs = opts.heartbeatMs ?? 10_000;
  const staleAfterMs = opts.staleAfterMs ?? 60_000;
  const maxAttempts = opts.maxAttempts ?? 3;
  const pollMs = opts.pollMs ?? 30_000;
  const keepDays = opts.keepDays ?? 7;
  const log = ctx.log.child({ component: 'scheduler', owner });

  const prune: Schedule = {
    name: PRUNE_SCHEDULE,
    cron: '17 * * * *',
    run: async () => ({ deleted: await slots.prune(new Date(clock.now() - keepDays * 86_400_000)) }),
  };

  // Per schedule: the cron it had and the latest slot this process has dealt with (run, lost to another
  // instance, or deliberately not run). Undefined means this process has not looked at it yet.
  const cursors = new Map<string, { cron: string; slot: number }>();
  const badCrons = new Set<string>();
  // Slots this process runs now, by schedule name.
  const running = new Map<string, { done: Promise<void>; abort: AbortController; beat: { timer?: Timer; stopped: boolean } }>();
  let known: Schedule[] = [prune];
  let current: Promise<RoundReport> | undefined;
  let timer: Timer | undefined;
  let started = false;
  let stopped = false;

  async function loadSchedules(): Promise<Schedule[]> {
    try {
      const list = typeof opts.schedules === 'function' ? await opts.schedules() : opts.schedules;
      known = [...list, prune];
    } catch (err) {
      // Keep the previous list: a database hiccup must not stop the every-minute jobs from being tried.
      log.error({ err }, 'could not list the schedules; using the previous list this round');
    }
    return known;
  }

  function compiled(s: Schedule): Cron | undefined {
    const c = cronOf(s.cron);
    if (c instanceof Error) {
      if (!badCrons.has(`${s.name} ${s.cron}`)) {
        badCrons.add(`${s.name} ${s.cron}`);
        log.error({ schedule: s.name, cron: s.cron, reason: c.message }, 'invalid cron expression; the schedule does not run');
      }
      return undefined;
    }
    return c;
  }

  function launch(s: Schedule, slot: Date, attempt: number): void {
    const abort = new AbortController();
    const beat: { timer?: Timer; stopped: boolean } = { stopped: false };
    const key = { schedule: s.name, slot, owner };
    const scheduleBeat = () => {
      if (beat.stopped) return;
      beat.timer = clock.setTimer(async () => {
        if (beat.stopped) return;
        try {
          const still = await slots.beat({ ...key, now: new Date(clock.now()) });
          if (!still) {
            // Another instance took the slot over (our beats stopped reaching it for too long): stop ours.
            log.warn({ schedule: s.name, slot }, 'slot taken over by another instance; aborting this run');
            beat.stopped = true;
            abort.abort(new Error('the slot was taken over by another instance'));
            return;
          }
        } catch (err) {
          log.warn({ err, schedule: s.name }, 'heartbeat failed; trying again at the next beat');
        }
        scheduleBeat();
      }, heartbeatMs);
    };
    scheduleBeat();
    const done = (async () => {
      const t0 = clock.now();
      let status: 'succeeded' | 'failed' = 'succeeded';
      let result: unknown;
      let error: string | undefined;
      try {
        result = storableResult(await s.run(ctx, { schedule: s.name, slot, attempt, signal: abort.signal }));
      } catch (err) {
        status = 'failed';
        error = (err instanceof Error ? err.message : String(err)).slice(0, ERROR_MAX);
        log.error({ err, schedule: s.name, slot, attempt }, 'scheduled job failed');
      } finally {
        beat.stopped = true;
        beat.timer?.cancel();
      }
      try {
        const recorded = await slots.finish({ ...key, now: new Date(clock.now()), status, result, error });
        if (!recorded)
          log.warn({ schedule: s.name, slot }, 'slot finished after another instance took it over; its outcome is not recorded');
        else log.debug({ schedule: s.name, slot, status, ms: clock.now() - t0 }, 'scheduled job finished');
      } catch (err) {
        // The row stays `running` with a stopped heartbeat: another instance gives it up or takes it over.
        log.error({ err, schedule: s.name, slot }, 'could not record the end of a slot');
      }
    })().finally(() => {
      if (running.get(s.name)?.done === done) running.delete(s.name);
    });
    running.set(s.name, { done, abort, beat });
  }

  async function claimDue(s: Schedule, now: number, report: RoundReport): Promise<void> {
    const cron = compiled(s);
    if (!cron) return;
    const slot = latestSlot(cron, now);
    if (!slot) return;
    const before = cursors.get(s.name);
    if (before && before.cron === s.cron && slot.getTime() <= before.slot) return;
    cursors.set(s.name, { cron: s.cron, slot: slot.getTime() });
    // A changed expression starts afresh from its next slot (its last slot passed under the old one).
    if (before && before.cron !== s.cron) return;
    if (running.has(s.name)) return; // this process still runs the previous slot
    try {
      if (!before && !(await slots.ranBefore(s.name, slot))) return;
      const won = await slots.claim({
        schedule: s.name,
        slot,
        owner,
        now: new Date(now),
        unlessRunningSince: new Date(now - staleAfterMs),
      });
      if (!won) return;
      report.started.push(slotKey(s.name, slot));
      launch(s, slot, 1);
    } catch (err) {
      // Try this slot again next round (if it is still the latest).
      if (before) cursors.set(s.name, before);
      else cursors.delete(s.name);
      log.error({ err, schedule: s.name }, 'could not claim a slot; trying again next round');
    }
  }

  async function recoverStale(list: Schedule[], now: number, report: RoundReport): Promise<void> {
    const staleBefore = new Date(now - staleAfterMs);
    const byName = new Map(list.map((s) => [s.name, s]));
    for (const row of await slots.listStale(staleBefore)) {
      if (running.has(row.schedule) && row.owner === owner) continue; // ours and alive: only a slow beat
      const s = byName.get(row.schedule);
      const cron = s ? compiled(s) : undefined;
      const latest = cron ? latestSlot(cron, now) : undefined;
      let reason: string | undefined;
      if (!s || !cron) reason = 'its instance stopped and the schedule no longer exists';
      else if (latest && row.slot.getTime() < latest.getTime()) reason = 'its instance stopped and a later slot has come';
      else if (row.attempts >= maxAttempts) reason = `its instance stopped ${row.attempts} times; given up after ${row.attempts} attempts`;
      else if (running.has(row.schedule)) continue; // we run another slot of it; take over next round
      if (reason) {
        if (await slots.abandon({ schedule: row.schedule, slot: row.slot, now: new Date(now), staleBefore, error: reason }))
          report.abandoned.push(slotKey(row.schedule, row.slot));
        continue;
      }
      const taken = await slots.takeOver({ schedule: row.schedule, slot: row.slot, owner, now: new Date(now), staleBefore, maxAttempts });
      if (!taken || !s) continue;
      log.warn(
        { schedule: s.name, slot: row.slot, attempt: taken.attempts, previousOwner: row.owner },
        'took over a slot whose instance stopped',
      );
      report.tookOver.push(slotKey(s.name, row.slot));
      cursors.set(s.name, { cron: s.cron, slot: Math.max(row.slot.getTime(), cursors.get(s.name)?.slot ?? 0) });
      launch(s, row.slot, taken.attempts);
    }
  }

  async function doRound(): Promise<RoundReport> {
    const report: RoundReport = { started: [], tookOver: [], abandoned: [] };
    const now = clock.now();
    const list = await loadSchedules();
    for (const s of list) {
      if (stopped) break;
      await claimDue(s, now, report);
    }
    if (!stopped) {
      try {
        await recoverStale(list, now, report);
      } catch (err) {
        log.error({ err }, 'could not look for dead slot runs; trying again next round');
      }
    }
    return report;
  }

  function planNext(): void {
    if (stopped || !started) return;
    const now = clock.now();
    let wait = pollMs;
    for (const s of known) {
      const cron = cronOf(s.cron);
      if (cron instanceof Error) continue;
      const next = nextSlot(cron, now);
      if (next) wait = Math.min(wait, next.getTime() - now);
    }
    timer?.cancel();
    // A few ms past the slot, so a timer firing early never computes the previous slot as the latest.
    timer = clock.setTimer(() => round(), Math.max(0, wait) + 5);
  }

  function round(): Promise<RoundReport> {
    current ??= doRound().finally(() => {
      current = undefined;
      planNext();
    });
    return current;
  }

  return {
    owner,
    async start() {
      if (started || stopped) return;
      started = true;
      await round().catch((err: unknown) => log.error({ err }, 'scheduler round failed'));
    },
    round,
    async idle() {
      await current;
      while (running.size > 0) await Promise.all([...running.values()].map((r) => r.done));
    },
    async stop(timeoutMs) {
      stopped = true;
      timer?.cancel();
      await current?.catch(() => undefined);
      const inFlight = [...running.values()];
      if (inFlight.length === 0) return;
      log.info({ running: [...running.keys()] }, 'waiting for scheduled jobs in flight');
      let deadline: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        Promise.all(inFlight.map((r) => r.done)).then(() => true),
        new Promise<boolean>((resolve) => {
          deadline = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      clearTimeout(deadline);
      if (!finished) {
        // Their rows stay `running` and stop beating: another instance takes them over once they are stale.
        for (const r of inFlight) {
          r.beat.stopped = true;
          r.beat.timer?.cancel();
          r.abort.abort(new Error('the process is shutting down'));
        }
        log.warn({ running: [...running.keys()] }, 'scheduled jobs still running at shutdown; another instance takes them over');
      }
    },
  };
}
