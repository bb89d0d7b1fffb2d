// A test message to one endpoint only (whatever its filter; a paused one gets it when resumed), to check the receiver and its signature
// check. Its data is a synthetic sample and the message carries `test: true` everywhere it appears.
import { sampleData, TEST_EVENT_TYPE } from '../../catalog/index.js';
import { findEndpoint } from '../../db/queries/endpoints.js';
import { publishMessage } from '../../db/queries/messages.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { checkEventTypes } from './check-event-types.js';

export async function sendTestEvent(
  ctx: Ctx,
  workspaceId: string,
  endpointId: string,
  input: unknown,
): Promise<{ messageId: string; deliveryQueued: true; test: true }> {
  const body = asObject(input);
  const type = body.type === undefined ? TEST_EVENT_TYPE : body.type;
  if (typeof type !== 'string' || type === '*' || type.endsWith('.*')) {
    throw new ValidationError(`type must be one event type such as "subscription.canceled" (default "${TEST_EVENT_TYPE}")`, {
      field: 'type',
    });
  }
  const endpoint = await findEndpoint(ctx.db, workspaceId, endpointId);
  if (!endpoint) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
  await checkEventTypes(ctx, workspaceId, [type], 'type');
  const messageId = newId('msg', ctx.now());
  await ctx.db.transaction((tx) =>
    publishMessage(tx, {
      id: messageId,
      workspaceId,
      type,
      data: sampleData(type),
      sourceProvider: null,
      sourceEventId: null,
      dedupeKey: `test:${messageId}`,
      endpointIds: [endpoint.id],
      test: true,
    }),
  );
  ctx.onDeliveriesQueued();
  return { messageId, deliveryQueued: true, test: true };
}
