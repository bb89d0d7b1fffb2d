// REST Hooks (Zapier, Make, n8n): subscribing creates an endpoint of kind 'hook' for one event type; the
// platform unsubscribes with DELETE, or Sluice removes it when the target answers 410.
import { ValidationError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { createEndpoint } from './create-endpoint.js';
import { asObject } from '../input.js';

export async function subscribeHook(
  ctx: Ctx,
  workspaceId: string,
  input: unknown,
): Promise<{ id: string; targetUrl: string; event: string }> {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !['targetUrl', 'event'].includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}; expected targetUrl, event`);
  if (typeof body.event !== 'string')
    throw new ValidationError('event is required: the event type to subscribe to, e.g. "subscription.canceled"', { field: 'event' });
  const created = await createEndpoint(
    ctx,
    workspaceId,
    { url: body.targetUrl, eventTypes: [body.event], description: 'REST Hooks subscription' },
    'hook',
    { url: 'targetUrl', eventTypes: 'event' },
  );
  return { id: created.id, targetUrl: created.url, event: body.event };
}
