// REST Hooks samples: what a message of a given type looks like, so Zapier, Make and n8n can show fields
// while a user builds a flow. The workspace's newest real message of that type when there is one (test
// messages never count), else a synthetic one from the catalog, flagged `test: true`.
import { checkEventTypes } from './check-event-types.js';
import { SAMPLE_AT, sampleData } from '../../catalog/index.js';
import { latestMessageOfType } from '../../db/queries/messages.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { messageBody, type MessageBody } from './message-body.js';

export async function hookSample(ctx: Ctx, workspaceId: string, q: Record<string, unknown>): Promise<MessageBody[]> {
  const type = q.event;
  if (typeof type !== 'string' || type === '' || type === '*' || type.endsWith('.*')) {
    throw new ValidationError('event is required: one event type, e.g. subscription.canceled, stripe.invoice.paid or a custom type', {
      field: 'event',
    });
  }
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  await checkEventTypes(ctx, workspaceId, [type], 'event');
  const real = await latestMessageOfType(ctx.db, workspaceId, type);
  if (real) return [messageBody(real)];
  const source =
    type.startsWith('stripe.') || type.startsWith('piano.') ? { provider: type.split('.')[0]!, eventId: 'evt_Sample123' } : null;
  return [{ id: 'msg_sample0000000000000000', type, timestamp: SAMPLE_AT, workspaceId, data: sampleData(type), source, test: true }];
}
