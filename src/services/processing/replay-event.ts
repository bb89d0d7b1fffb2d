import { getEvent, requeueEvent } from '../../db/queries/events.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ConflictError, NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { toEventView, type EventView } from './event-view.js';

/** Queues a stored event for another run through its handler. Projections are idempotent, so a replay
 *  can repair state but never double-counts. */
export async function replayEvent(ctx: Ctx, workspaceId: string, eventId: string): Promise<EventView> {
  const event = await requeueEvent(ctx.db, workspaceId, eventId);
  if (!event) {
    if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
    const stored = await getEvent(ctx.db, workspaceId, eventId);
    if (stored) {
      // Requeue refuses only events kept without a payload: their content cannot be processed, ever.
      throw new ConflictError(
        'EVENT_NOT_REPLAYABLE',
        `event ${JSON.stringify(eventId)} cannot be replayed: its content could not be stored as JSON (${stored.error ?? 'see the event'}); it is kept as raw bytes for the record`,
      );
    }
    throw new NotFoundError('EVENT_NOT_FOUND', `no event ${JSON.stringify(eventId)} in this workspace`);
  }
  ctx.log.info({ workspaceId, eventId }, 'event queued for replay');
  ctx.onEventStored();
  return toEventView(event);
}
