// After fixing a receiver: every failed delivery of the endpoint since a time goes back in the queue for a
// fresh run of the retry schedule.
import { requeueFailedDeliveries } from '../../db/queries/deliveries.js';
import { findEndpoint } from '../../db/queries/endpoints.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { asObject, parseTime } from '../input.js';

export async function recoverDeliveries(ctx: Ctx, workspaceId: string, endpointId: string, input: unknown): Promise<{ requeued: number }> {
  const body = asObject(input);
  const since = parseTime(typeof body.since === 'number' ? String(body.since) : body.since, 'since');
  if (!since)
    throw new ValidationError('since is required: resend failed deliveries created at or after this time (ISO 8601 or unix seconds)', {
      field: 'since',
    });
  const endpoint = await findEndpoint(ctx.db, workspaceId, endpointId);
  if (!endpoint) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
  const requeued = await requeueFailedDeliveries(ctx.db, endpoint.id, since);
  ctx.log.info({ workspaceId, endpointId, requeued, since }, 'failed deliveries requeued');
  if (requeued > 0) ctx.onDeliveriesQueued();
  return { requeued };
}
