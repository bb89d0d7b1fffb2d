// The daily scan started from outside (a hosted scheduler calling GET|POST /api/v1/cron/scan): the first call
// of a UTC day claims the slot `cron.scan`@<day> in schedule_runs and starts a scan of every workspace; any
// other call that day — a retry, a second scheduler, the same call reaching two instances — finds the slot
// taken and answers with the run ids the first call stored. The claim row makes it once across instances.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AppError, UnauthorizedError } from '../../errors.js';
import { constantTimeEqual, hashToken } from '../../lib/hash.js';
import type { Ctx } from '../context.js';
import { scheduleSlots, type ScheduleRunRow } from '../schedules/schedule-slots.js';
import { listScanSchedules } from './scan-schedules.js';
import { startScan as realStartScan, type ScanRequest } from './start-scan.js';

export const CRON_SCAN_SCHEDULE = 'cron.scan';

export type StartScanFn = (ctx: Ctx, req: ScanRequest) => Promise<{ runId: string; alreadyRunning: boolean }>;

export interface CronScanOutcome {
  /** True for the call that started today's scans; false for a repeat. */
  started: boolean;
  /** The scan run of each workspace, in workspace order (empty with no workspace, or while the first call is
   *  still starting them past the wait). */
  runIds: string[];
}

/** A claimant that stops beating for this long (it crashed while starting the scans) is taken over. */
const STALE_MS = 60_000;
const MAX_ATTEMPTS = 3;

/** Whether the Authorization header carries the configured cron secret (compared in constant time, as hashes so
 *  the lengths compared are equal too). */
export function cronSecretMatches(ctx: Ctx, authorization: string | undefined): boolean {
  const secret = ctx.config.cronSecret;
  if (!secret) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return constantTimeEqual(hashToken(match?.[1] ?? ''), hashToken(secret)) && match !== null;
}

/** Throws 401 unless the header carries the cron secret. */
export function assertCronSecret(ctx: Ctx, authorization: string | undefined): void {
  if (!cronSecretMatches(ctx, authorization)) throw new UnauthorizedError('send Authorization: Bearer <SLUICE_CRON_SECRET>');
}

/** Midnight UTC of the day `ms` falls in: the slot of that day's cron scan. */
export function cronDay(ms: number): Date {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

function runIdsOf(row: ScheduleRunRow | undefined): string[] | undefined {
  const r = row?.result as { runIds?: unknown } | null | undefined;
  return Array.isArray(r?.runIds) ? r.runIds.filter((x): x is string => typeof x === 'string') : undefined;
}

export async function startCronScan(
  ctx: Ctx,
  opts: { startScan?: StartScanFn; owner?: string; waitMs?: number; pollMs?: number } = {},
): Promise<CronScanOutcome> {
  const startScan = opts.startScan ?? realStartScan;
  const slots = scheduleSlots(ctx.db);
  const owner = opts.owner ?? `cron:${hostname().slice(0, 60)}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const slot = cronDay(ctx.now());
  const key = { schedule: CRON_SCAN_SCHEDULE, slot, owner };
  const at = () => new Date(ctx.now());

  let mine = await slots.claim({ ...key, now: at() });
  if (!mine) {
    // Another call has today's slot. Its run ids are stored as soon as its scans are started; wait for them
    // briefly (two calls racing arrive together), or carry on from a claimant that died or failed.
    const deadline = Date.now() + (opts.waitMs ?? 10_000);
    for (;;) {
      const row = await slots.find(CRON_SCAN_SCHEDULE, slot);
      const ids = runIdsOf(row);
      if (row?.status === 'succeeded' || (row?.status === 'running' && ids)) return { started: false, runIds: ids ?? [] };
      if (row?.status === 'failed') {
        if (await slots.retryFailed({ ...key, now: at(), maxAttempts: MAX_ATTEMPTS })) {
          mine = true;
          break;
        }
        const again = await slots.find(CRON_SCAN_SCHEDULE, slot);
        if (again?.status === 'failed')
          throw new AppError(
            'CRON_SCAN_FAILED',
            `today's scans could not be started after ${again.attempts} attempts; see the server log`,
            500,
          );
        continue;
      }
      if (row?.status === 'running' && row.heartbeatAt.getTime() < ctx.now() - STALE_MS) {
        if (await slots.takeOver({ ...key, now: at(), staleBefore: new Date(ctx.now() - STALE_MS), maxAttempts: MAX_ATTEMPTS })) {
          mine = true;
          break;
        }
        continue;
      }
      if (Date.now() >= deadline) return { started: false, runIds: ids ?? [] };
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    }
  }

  const runIds: string[] = [];
  try {
    for (const { workspaceId } of await listScanSchedules(ctx)) {
      const run = await startScan(ctx, { workspaceId, startedBy: 'cron' });
      runIds.push(run.runId);
      // A sign of life per workspace, so a long list is not mistaken for a dead claimant.
      await slots.beat({ ...key, now: at() });
    }
  } catch (err) {
    await slots
      .finish({
        ...key,
        now: at(),
        status: 'failed',
        result: { runIds },
        error: (err instanceof Error ? err.message : String(err)).slice(0, 2000),
      })
      .catch(() => undefined);
    throw err;
  }
  await slots.finish({ ...key, now: at(), status: 'succeeded', result: { runIds } });
  return { started: true, runIds };
}
