// "Retry everything this filter matches" on an endpoint's deliveries (after fixing the receiver), bounded: at
// most BULK_RETRY_LIMIT per call, the newest first, so one click never floods a receiver that just came back;
// the answer says how many went back in the queue and whether more match (click again).
import { countMatchingDeliveries, requeueMatchingDeliveries, type DeliveryFilter } from '../../db/queries/deliveries.js';
import { findEndpoint } from '../../db/queries/endpoints.js';
import { NotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { oneOf, optionalString } from '../input.js';

export const BULK_RETRY_LIMIT = 1000;

function filterOf(workspaceId: string, endpointId: string, q: Record<string, unknown>): DeliveryFilter {
  return {
    workspaceId,
    endpointId,
    status: oneOf(q.status, 'status', ['pending', 'succeeded', 'failed'] as const),
    messageType: optionalString(q, 'type', 200),
  };
}

async function assertEndpoint(ctx: Ctx, workspaceId: string, endpointId: string): Promise<void> {
  if (!(await findEndpoint(ctx.db, workspaceId, endpointId))) {
    throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
  }
}

/** How many deliveries the filter matches, up to BULK_RETRY_LIMIT + 1 (more than the limit: "1,000+"). */
export async function countRetryable(ctx: Ctx, workspaceId: string, endpointId: string, q: Record<string, unknown>): Promise<number> {
  const filter = filterOf(workspaceId, endpointId, q);
  return countMatchingDeliveries(ctx.db, filter, BULK_RETRY_LIMIT + 1);
}

export async function bulkRetryDeliveries(
  ctx: Ctx,
  workspaceId: string,
  endpointId: string,
  q: Record<string, unknown>,
): Promise<{ queued: number; inFlight: number; more: boolean }> {
  const filter = filterOf(workspaceId, endpointId, q);
  await assertEndpoint(ctx, workspaceId, endpointId);
  const r = await ctx.db.transaction((tx) => requeueMatchingDeliveries(tx, filter, BULK_RETRY_LIMIT));
  // A status filter other than pending: what was queued no longer matches, so a count says what is left.
  // Without one (or with pending), the same rows match again: "more" means the limit was reached.
  const more =
    filter.status && filter.status !== 'pending' ? (await countMatchingDeliveries(ctx.db, filter, 1)) > 0 : r.matched >= BULK_RETRY_LIMIT;
  ctx.log.info({ workspaceId, endpointId, ...r }, 'deliveries retried in bulk');
  if (r.queued > 0) ctx.onDeliveriesQueued();
  return { queued: r.queued, inFlight: r.inFlight, more };
}
