// What the scheduler runs (every cron in UTC):
// - parity.sweep, every minute: expire access rows past their expiry and check customers whose next boundary
//   (or debounced change) has come;
// - ops.lag-sample, every minute: the webhook_lag and processing_backlog incidents of every workspace;
// - parity.scan-resume, every minute: take over and resume scans whose instance stopped;
// - parity.scan:<workspaceId>, on the workspace's policy.scanSchedule (default 0 3 * * *): the daily
//   reconciliation scan. The list is read again at every round, so new workspaces and changed schedules are
//   picked up without a restart.
import { sampleLag } from '../services/incidents/sample-lag.js';
import { listScanSchedules } from '../services/parity/scan-schedules.js';
import { resumeScans, startScan } from '../services/parity/start-scan.js';
import { sweepParity } from '../services/parity/sweep-parity.js';
import type { Ctx } from '../services/context.js';
import type { StartScanFn } from '../services/parity/cron-scan.js';
import type { Schedule } from './scheduler.js';

export const EVERY_MINUTE = '* * * * *';

export const fixedSchedules: Schedule[] = [
  { name: 'parity.sweep', cron: EVERY_MINUTE, run: (ctx) => sweepParity(ctx) },
  { name: 'ops.lag-sample', cron: EVERY_MINUTE, run: (ctx) => sampleLag(ctx) },
  { name: 'parity.scan-resume', cron: EVERY_MINUTE, run: async (ctx) => ({ resumed: await resumeScans(ctx) }) },
];

export const SCAN_SCHEDULE_PREFIX = 'parity.scan:';

/** The daily scan of one workspace: starts it (it runs in the background; parity.scan-resume carries it on if
 *  this process stops) and records the scan run's id as the slot's result. */
export function scanSchedule(workspaceId: string, cron: string, start: StartScanFn = startScan): Schedule {
  return {
    name: `${SCAN_SCHEDULE_PREFIX}${workspaceId}`,
    cron,
    run: (ctx) => start(ctx, { workspaceId, startedBy: 'schedule' }),
  };
}

/** Every schedule, read afresh (the scan schedules live in each workspace's parity policy). `start` stands in
 *  for startScan in tests. */
export async function allSchedules(ctx: Ctx, start: StartScanFn = startScan): Promise<Schedule[]> {
  const scans = await listScanSchedules(ctx);
  return [...fixedSchedules, ...scans.map((s) => scanSchedule(s.workspaceId, s.cron, start))];
}
