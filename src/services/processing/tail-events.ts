// The live tail's read: events above a bound that match a list's filters, oldest first, a bounded number per
// call. Polled by each open tail, so it works whichever instance stored the event.
import { listEvents as queryEvents } from '../../db/queries/events.js';
import type { Ctx } from '../context.js';
import { oneOf } from '../input.js';
import { parseEventTypeFilter, type EventTypeFilter } from './event-type-filter.js';
import { toEventView, type EventView } from './event-view.js';

export interface TailFilter extends EventTypeFilter {
  provider?: 'stripe' | 'piano' | 'custom' | undefined;
  status?: 'received' | 'processed' | 'ignored' | 'failed' | undefined;
}

/** The filters of the events list that the tail follows (a time bound means nothing for new events). */
export function parseTailFilter(query: Record<string, unknown>): TailFilter {
  return {
    provider: oneOf(query.provider, 'provider', ['stripe', 'piano', 'custom'] as const),
    ...parseEventTypeFilter(query),
    status: oneOf(query.status, 'status', ['received', 'processed', 'ignored', 'failed'] as const),
  };
}

export async function tailEvents(
  ctx: Ctx,
  workspaceId: string,
  filter: TailFilter,
  bound: { after: string; exclude: string[]; limit: number },
): Promise<EventView[]> {
  const rows = await queryEvents(ctx.db, {
    workspaceId,
    ...filter,
    after: bound.after,
    exclude: bound.exclude,
    oldestFirst: true,
    limit: bound.limit,
  });
  return rows.map(toEventView);
}
