import { getEvent as queryEvent, listEvents as queryEvents } from '../../db/queries/events.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { toEventView, type EventView } from './event-view.js';
import { oneOf, page, parseCursor, parseLimit, parseTime } from '../input.js';
import { parseEventTypeFilter } from './event-type-filter.js';

export async function listEvents(
  ctx: Ctx,
  workspaceId: string,
  query: Record<string, unknown>,
): Promise<{ data: EventView[]; nextCursor: string | null }> {
  const limit = parseLimit(query.limit);
  const filter = {
    workspaceId,
    provider: oneOf(query.provider, 'provider', ['stripe', 'piano', 'custom'] as const),
    ...parseEventTypeFilter(query),
    status: oneOf(query.status, 'status', ['received', 'processed', 'ignored', 'failed'] as const),
    since: parseTime(query.since, 'since'),
    before: parseCursor(query.cursor),
    limit: limit + 1,
  };
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const p = page(await queryEvents(ctx.db, filter), limit);
  return { data: p.data.map(toEventView), nextCursor: p.nextCursor };
}

export async function getEvent(ctx: Ctx, workspaceId: string, eventId: string): Promise<EventView> {
  const event = await queryEvent(ctx.db, workspaceId, eventId);
  if (!event) {
    if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
    throw new NotFoundError('EVENT_NOT_FOUND', `no event ${JSON.stringify(eventId)} in this workspace`);
  }
  return toEventView(event);
}
