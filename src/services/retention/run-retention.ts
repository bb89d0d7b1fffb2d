// Retention: each workspace keeps `retentionDays` of history (its own setting, else SLUICE_RETENTION_DAYS).
// Older processed and ignored events are deleted, kept ones lose their raw bodies, and old delivery attempts
// go; finished workflow runs go after `workflowRunRetentionDays` (else SLUICE_WORKFLOW_RUN_RETENTION_DAYS) — in batches of SLUICE_RETENTION_BATCH rows, one short transaction each, with a pause between them, so
// ingest and the workers never queue behind the job. One run at a time across every process on the database
// (a lease row, renewed while the run lasts).
import { newId } from '../../lib/ids.js';
import {
  pruneAttemptBatch,
  pruneCheckRunBatch,
  pruneEventBatch,
  pruneWorkflowRunBatch,
  releaseRetentionLease,
  takeRetentionLease,
  workspaceRetention,
} from '../../db/queries/retention.js';
import { deleteEndedLinks, deleteExpiredSessions } from '../../db/queries/users.js';
import { deleteExpiredReveals } from '../../db/queries/console-reveals.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';

export interface WorkspaceRetentionReport {
  workspaceId: string;
  retentionDays: number;
  cutoff: string;
  eventsDeleted: number;
  rawBodiesPruned: number;
  attemptsDeleted: number;
  workflowRunRetentionDays: number;
  /** Finished workflow runs deleted, with their steps and attempts. */
  workflowRunsDeleted: number;
  /** Finished parity check runs deleted (scan runs are kept). */
  checkRunsDeleted: number;
}

export type RetentionReport =
  | { ran: true; workspaces: WorkspaceRetentionReport[]; seconds: number; stopped: boolean }
  | { ran: false; reason: 'another run holds the lease' };

export interface RetentionOptions {
  workspaceId?: string | undefined;
  /** Checked between batches: a shutdown ends the run at the next batch boundary. */
  shouldStop?: () => boolean;
}

// Long enough for any one batch; renewed before each.
const LEASE_SECONDS = 120;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runRetention(ctx: Ctx, opts: RetentionOptions = {}): Promise<RetentionReport> {
  const workspaces = await workspaceRetention(ctx.db, opts.workspaceId);
  if (opts.workspaceId !== undefined && workspaces.length === 0) throw new WorkspaceNotFoundError(opts.workspaceId);
  const holder = newId('ret', ctx.now());
  if (!(await takeRetentionLease(ctx.db, holder, LEASE_SECONDS))) return { ran: false, reason: 'another run holds the lease' };
  const started = ctx.now();
  const { retentionBatchSize: limit, retentionPauseMs } = ctx.config;
  const stop = opts.shouldStop ?? (() => false);
  const reports: WorkspaceRetentionReport[] = [];
  let stopped = false;
  // Renews the lease before each batch; a run that lost it (paused longer than the lease) stops.
  const keepGoing = async () => {
    if (stop()) return false;
    if (!(await takeRetentionLease(ctx.db, holder, LEASE_SECONDS))) {
      ctx.log.warn({ holder }, 'retention lost its lease to another run; stopping');
      return false;
    }
    return true;
  };
  try {
    // Console sessions, one-time links and values kept for the console to show once that ended: small tables, one
    // statement each (a value kept for a session goes with it too).
    const sessionsEnded =
      (await deleteExpiredSessions(ctx.db)) + (await deleteEndedLinks(ctx.db)) + (await deleteExpiredReveals(ctx.db, new Date(ctx.now())));
    if (sessionsEnded > 0) ctx.log.info({ deleted: sessionsEnded }, 'retention removed ended console sessions and links');
    outer: for (const ws of workspaces) {
      const days = ws.retentionDays ?? ctx.config.retentionDays;
      const cutoff = new Date(ctx.now() - days * 86_400_000);
      const report: WorkspaceRetentionReport = {
        workspaceId: ws.id,
        retentionDays: days,
        cutoff: cutoff.toISOString(),
        eventsDeleted: 0,
        rawBodiesPruned: 0,
        attemptsDeleted: 0,
        workflowRunRetentionDays: ws.workflowRunRetentionDays ?? ctx.config.workflowRunRetentionDays,
        workflowRunsDeleted: 0,
        checkRunsDeleted: 0,
      };
      reports.push(report);
      let afterId: string | null = null;
      let batches = 0;
      for (;;) {
        if (!(await keepGoing())) {
          stopped = true;
          break outer;
        }
        const b = await pruneEventBatch(ctx.db, { workspaceId: ws.id, cutoff, afterId, limit });
        if (b.scanned === 0) break;
        afterId = b.lastId;
        report.eventsDeleted += b.deleted;
        report.rawBodiesPruned += b.rawPruned;
        if (++batches % 100 === 0) ctx.log.info({ ...report, batches }, 'retention in progress');
        await pause(retentionPauseMs);
      }
      for (;;) {
        if (!(await keepGoing())) {
          stopped = true;
          break outer;
        }
        const n = await pruneAttemptBatch(ctx.db, { workspaceId: ws.id, cutoff, limit });
        report.attemptsDeleted += n;
        if (n < limit) break;
        await pause(retentionPauseMs);
      }
      // A run takes its step rows and their attempts with it (often tens of rows): fewer runs per statement.
      const runLimit = Math.max(10, Math.floor(limit / 10));
      const runCutoff = new Date(ctx.now() - report.workflowRunRetentionDays * 86_400_000);
      for (;;) {
        if (!(await keepGoing())) {
          stopped = true;
          break outer;
        }
        const n = await pruneWorkflowRunBatch(ctx.db, { workspaceId: ws.id, cutoff: runCutoff, limit: runLimit });
        report.workflowRunsDeleted += n;
        if (n < runLimit) break;
        await pause(retentionPauseMs);
      }
      for (;;) {
        if (!(await keepGoing())) {
          stopped = true;
          break outer;
        }
        const n = await pruneCheckRunBatch(ctx.db, { workspaceId: ws.id, cutoff, limit });
        report.checkRunsDeleted += n;
        if (n < limit) break;
        await pause(retentionPauseMs);
      }
      if (report.eventsDeleted + report.rawBodiesPruned + report.attemptsDeleted + report.workflowRunsDeleted + report.checkRunsDeleted > 0)
        ctx.log.info(report, 'retention pruned a workspace');
    }
  } finally {
    await releaseRetentionLease(ctx.db, holder).catch((err: unknown) => ctx.log.warn({ err }, 'could not release the retention lease'));
  }
  const seconds = (ctx.now() - started) / 1000;
  ctx.log.info(
    {
      workspaces: reports.length,
      eventsDeleted: reports.reduce((n, r) => n + r.eventsDeleted, 0),
      rawBodiesPruned: reports.reduce((n, r) => n + r.rawBodiesPruned, 0),
      attemptsDeleted: reports.reduce((n, r) => n + r.attemptsDeleted, 0),
      workflowRunsDeleted: reports.reduce((n, r) => n + r.workflowRunsDeleted, 0),
      checkRunsDeleted: reports.reduce((n, r) => n + r.checkRunsDeleted, 0),
      seconds,
      stopped,
    },
    'retention run finished',
  );
  return { ran: true, workspaces: reports, seconds, stopped };
}
