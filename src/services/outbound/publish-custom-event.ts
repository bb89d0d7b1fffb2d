// A team's own event (`course.enrolled`, `lesson.completed`) published into outbound webhooks like the
// business events. An `id` makes the call idempotent: the same id publishes once and answers with that message.
// The type rule and the reserved prefixes are the catalog's (catalog/event-types.ts).
import { findMessageByDedupeKey, publishMessage } from '../../db/queries/messages.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { messageBody, type MessageBody } from './message-body.js';
import { customTypeProblem } from '../../catalog/index.js';
import { checkCustomEventData } from './custom-event-data.js';

const MAX_DATA_BYTES = 256 * 1024;

export async function publishCustomEvent(
  ctx: Ctx,
  workspaceId: string,
  input: unknown,
): Promise<{ message: MessageBody; duplicate: boolean }> {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !['type', 'data', 'id'].includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}; expected type, data, id`);
  const type = body.type;
  if (type === undefined || type === null || type === '') {
    throw new ValidationError('type is required: e.g. "course.enrolled"', { field: 'type' });
  }
  if (typeof type !== 'string') throw new ValidationError('type must be a string such as "course.enrolled"', { field: 'type' });
  const typeProblem = customTypeProblem(type);
  if (typeProblem) throw new ValidationError(`${typeProblem}; got ${JSON.stringify(type.slice(0, 200))}`, { field: 'type' });
  const data = body.data === undefined ? {} : body.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new ValidationError('data must be a JSON object', { field: 'data' });
  checkCustomEventData(data);
  if (Buffer.byteLength(JSON.stringify(data)) > MAX_DATA_BYTES)
    throw new ValidationError('data must be at most 256 KiB of JSON', { field: 'data' });
  if (body.id !== undefined && (typeof body.id !== 'string' || body.id.length === 0 || body.id.length > 200)) {
    throw new ValidationError('id must be a string of 1 to 200 characters (your idempotency key)', { field: 'id' });
  }
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);

  const dedupeKey = body.id === undefined ? `custom:${newId('c', ctx.now())}` : `custom:${body.id as string}`;
  const id = newId('msg', ctx.now());
  const created = await ctx.db.transaction((tx) =>
    publishMessage(tx, {
      id,
      workspaceId,
      type,
      data,
      sourceProvider: null,
      sourceEventId: null,
      dedupeKey,
      firstAttemptDelaySeconds: ctx.config.retrySchedule[0] ?? 0,
    }),
  );
  const stored = (await findMessageByDedupeKey(ctx.db, workspaceId, dedupeKey))!;
  if (created) ctx.onDeliveriesQueued();
  else if (stored.type !== type || JSON.stringify(stored.data) !== JSON.stringify(data)) {
    // Same idempotency key, different content: most likely a bug on the caller's side; say so instead of hiding it.
    ctx.log.warn({ workspaceId, messageId: stored.id }, 'custom event id reused with different content; the first one stands');
  }
  return { message: messageBody(stored), duplicate: !created };
}
