// The claim rows of schedule slots, for the scheduler (src/jobs) and the cron route, which reach SQL only
// through services. One port object rather than a verb per file: these are the primitives of one protocol
// (claim, beat, finish, take over, give up, prune), always used together.
import {
  abandonScheduleSlot,
  beatScheduleSlot,
  claimScheduleSlot,
  findScheduleRun,
  finishScheduleSlot,
  hasScheduleRunBefore,
  listScheduleRuns,
  listStaleScheduleRuns,
  pruneScheduleRuns,
  retryFailedScheduleSlot,
  setScheduleSlotResult,
  takeOverScheduleSlot,
  type ScheduleRunRow,
} from '../../db/queries/schedule-runs.js';
import type { Db } from '../../db/port.js';

export type { ScheduleRunRow };

export interface ScheduleSlots {
  claim: (c: Parameters<typeof claimScheduleSlot>[1]) => Promise<boolean>;
  beat: (k: Parameters<typeof beatScheduleSlot>[1]) => Promise<boolean>;
  finish: (e: Parameters<typeof finishScheduleSlot>[1]) => Promise<boolean>;
  setResult: (k: Parameters<typeof setScheduleSlotResult>[1], result: unknown) => Promise<boolean>;
  find: (schedule: string, slot: Date) => Promise<ScheduleRunRow | undefined>;
  ranBefore: (schedule: string, slot: Date) => Promise<boolean>;
  listStale: (staleBefore: Date) => Promise<ScheduleRunRow[]>;
  takeOver: (t: Parameters<typeof takeOverScheduleSlot>[1]) => Promise<ScheduleRunRow | undefined>;
  abandon: (a: Parameters<typeof abandonScheduleSlot>[1]) => Promise<boolean>;
  retryFailed: (r: Parameters<typeof retryFailedScheduleSlot>[1]) => Promise<ScheduleRunRow | undefined>;
  prune: (before: Date) => Promise<number>;
  list: (opts: { schedule?: string; limit: number }) => Promise<ScheduleRunRow[]>;
}

export function scheduleSlots(db: Db): ScheduleSlots {
  return {
    claim: (c) => claimScheduleSlot(db, c),
    beat: (k) => beatScheduleSlot(db, k),
    finish: (e) => finishScheduleSlot(db, e),
    setResult: (k, result) => setScheduleSlotResult(db, k, result),
    find: (schedule, slot) => findScheduleRun(db, schedule, slot),
    ranBefore: (schedule, slot) => hasScheduleRunBefore(db, schedule, slot),
    listStale: (staleBefore) => listStaleScheduleRuns(db, staleBefore),
    takeOver: (t) => takeOverScheduleSlot(db, t),
    abandon: (a) => abandonScheduleSlot(db, a),
    retryFailed: (r) => retryFailedScheduleSlot(db, r),
    async prune(before) {
      // In batches, so a long backlog (a scheduler off for months) never holds one long delete.
      let total = 0;
      for (;;) {
        const n = await pruneScheduleRuns(db, before);
        total += n;
        if (n < 5000) return total;
      }
    },
    list: (opts) => listScheduleRuns(db, opts),
  };
}
