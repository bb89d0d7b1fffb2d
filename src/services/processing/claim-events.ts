// The queue verbs the event workers use: claim due events, renew and release claims. Kept behind a service
// so the worker runner holds no SQL.
import { claimDueEvents, EVENT_QUEUE, type ClaimedEvent } from '../../db/queries/events.js';
import { refreshQueueStatistics, releaseAllClaims, releaseClaims, renewLeases } from '../../db/queries/queue.js';
import type { Ctx } from '../context.js';

export function claimEvents(ctx: Ctx, workerId: string, limit = ctx.config.workerBatchSize): Promise<ClaimedEvent[]> {
  return claimDueEvents(ctx.db, workerId, limit, ctx.config.workerLeaseSeconds);
}

export function renewClaims(ctx: Ctx, workerId: string, ids: readonly string[]): Promise<void> {
  return renewLeases(ctx.db, EVENT_QUEUE, workerId, ids, ctx.config.workerLeaseSeconds);
}

/** Keeps the planner's picture of the events queue current (see refreshQueueStatistics). */
export function refreshEventQueueStatistics(ctx: Ctx): Promise<boolean> {
  return refreshQueueStatistics(ctx.db, EVENT_QUEUE);
}

export function giveBackClaims(ctx: Ctx, workerId: string, ids: readonly string[]): Promise<void> {
  return releaseClaims(ctx.db, EVENT_QUEUE, workerId, ids);
}

/** Frees every claim; only for the embedded database, where this process is the sole worker there is. */
export function releaseOrphanedClaims(ctx: Ctx): Promise<number> {
  return releaseAllClaims(ctx.db, EVENT_QUEUE);
}
