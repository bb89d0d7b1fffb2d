// A test message to one endpoint only (whatever its filter), to check the receiver and its signature check.
import { findEndpoint } from '../../db/queries/endpoints.js';
import { publishMessage } from '../../db/queries/messages.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { sampleData } from './hook-sample.js';

export async function sendTestEvent(
  ctx: Ctx,
  workspaceId: string,
  endpointId: string,
  input: unknown,
): Promise<{ messageId: string; deliveryQueued: true }> {
  const body = asObject(input);
  const type = body.type === undefined ? 'sluice.test' : body.type;
  if (typeof type !== 'string' || !/^[a-z0-9_]+(\.[a-z0-9_]+)+$/.test(type)) {
    throw new ValidationError('type must be an event type such as "subscription.canceled" (default "sluice.test")', { field: 'type' });
  }
  const endpoint = await findEndpoint(ctx.db, workspaceId, endpointId);
  if (!endpoint) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
  const messageId = newId('msg', ctx.now());
  await ctx.db.transaction((tx) =>
    publishMessage(tx, {
      id: messageId,
      workspaceId,
      type,
      data: { test: true, ...sampleData(type) },
      sourceProvider: null,
      sourceEventId: null,
      dedupeKey: `test:${messageId}`,
      endpointIds: [endpoint.id],
    }),
  );
  ctx.onDeliveriesQueued();
  return { messageId, deliveryQueued: true };
}
