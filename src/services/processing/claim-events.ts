// The queue verbs the event worker uses: claim due events, renew and release claims. Kept behind a service
// so the worker loop holds no SQL.
import { claimDueEvents, extendClaims, releaseAllClaims, releaseClaims, type ClaimedEvent } from '../../db/queries/events.js';
import type { Ctx } from '../context.js';

export function claimEvents(ctx: Ctx, workerId: string): Promise<ClaimedEvent[]> {
  return claimDueEvents(ctx.db, workerId, ctx.config.workerBatchSize, ctx.config.workerLeaseSeconds);
}

export function renewClaims(ctx: Ctx, workerId: string, ids: string[]): Promise<void> {
  return extendClaims(ctx.db, workerId, ids, ctx.config.workerLeaseSeconds);
}

export function giveBackClaims(ctx: Ctx, workerId: string, ids: string[]): Promise<void> {
  return releaseClaims(ctx.db, workerId, ids);
}

/** Frees every claim; only for the embedded database, where this process is the sole worker there is. */
export function releaseOrphanedClaims(ctx: Ctx): Promise<number> {
  return releaseAllClaims(ctx.db);
}
