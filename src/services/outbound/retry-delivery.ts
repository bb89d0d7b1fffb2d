// Resend one delivery now, whatever its state (a success can be sent again on purpose); not while a sender
// holds it, which would send it twice at once.
import { requeueDelivery } from '../../db/queries/deliveries.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { getDelivery } from './delivery-read.js';

export async function retryDelivery(ctx: Ctx, workspaceId: string, id: string) {
  const result = await ctx.db.transaction((tx) => requeueDelivery(tx, workspaceId, id));
  if (result === 'not_found') throw new NotFoundError('DELIVERY_NOT_FOUND', `no delivery ${JSON.stringify(id)} in this workspace`);
  if (result === 'in_flight')
    throw new ConflictError('DELIVERY_IN_FLIGHT', 'this delivery is being attempted right now; try again when the attempt is recorded');
  ctx.onDeliveriesQueued();
  return getDelivery(ctx, workspaceId, id);
}
