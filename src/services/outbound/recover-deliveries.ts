// After fixing a receiver or re-enabling a disabled endpoint: every failed delivery of the endpoint since a
// time goes back in the queue for a fresh run of the retry schedule, and every message since then that its
// filter matches but that has no delivery to it (published while it was disabled) gets one.
import { createMissedDeliveries, requeueFailedDeliveries } from '../../db/queries/deliveries.js';
import { findEndpoint } from '../../db/queries/endpoints.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { asObject, parseTime } from '../input.js';

export async function recoverDeliveries(
  ctx: Ctx,
  workspaceId: string,
  endpointId: string,
  input: unknown,
): Promise<{ requeued: number; created: number }> {
  const body = asObject(input);
  const since = parseTime(typeof body.since === 'number' ? String(body.since) : body.since, 'since');
  if (!since)
    throw new ValidationError('since is required: resend failed and missed deliveries from this time on (ISO 8601 or unix seconds)', {
      field: 'since',
    });
  const result = await ctx.db.transaction(async (tx) => {
    const endpoint = await findEndpoint(tx, workspaceId, endpointId, true);
    if (!endpoint) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
    const requeued = await requeueFailedDeliveries(tx, endpoint.id, since);
    const created = await createMissedDeliveries(tx, { id: endpoint.id, workspaceId, eventTypes: endpoint.event_types }, since);
    return { requeued, created };
  });
  ctx.log.info({ workspaceId, endpointId, ...result, since }, 'deliveries recovered');
  if (result.requeued + result.created > 0) ctx.onDeliveriesQueued();
  return result;
}
