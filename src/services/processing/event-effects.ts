// What one event did: the customers the CRM linked it to, the CRM rows whose current version it wrote, and the
// messages it published. For the console's event page.
import { customersOfEvents, rowsWrittenBy, type LinkedCustomer, type TouchedRow } from '../../db/queries/crm-read.js';
import { eventRecord } from '../../db/queries/events.js';
import { messagesOfEvent } from '../../db/queries/messages.js';
import type { Ctx } from '../context.js';
import type { EventView } from './event-view.js';

export interface EventEffects {
  inboundMethod: string | null;
  rawBytes: number | null;
  rawPrunedAt: string | null;
  customers: Omit<LinkedCustomer, 'eventId'>[];
  rows: TouchedRow[];
  messages: { id: string; type: string; createdAt: string; test: boolean }[];
}

export async function eventEffects(ctx: Ctx, workspaceId: string, event: EventView): Promise<EventEffects> {
  const [record, linked, messages] = await Promise.all([
    eventRecord(ctx.db, workspaceId, event.id),
    customersOfEvents(ctx.db, workspaceId, [event.id]),
    messagesOfEvent(ctx.db, workspaceId, event),
  ]);
  const customers = linked.map(({ eventId: _eventId, ...c }) => c);
  const rows = await rowsWrittenBy(
    ctx.db,
    workspaceId,
    customers.map((c) => c.id),
    event.providerEventId,
  );
  return {
    inboundMethod: record?.inboundMethod ?? null,
    rawBytes: record?.rawBytes ?? null,
    rawPrunedAt: record?.rawPrunedAt?.toISOString() ?? null,
    customers,
    rows,
    messages: messages.map((m) => ({ id: m.id, type: m.type, createdAt: m.created_at.toISOString(), test: m.test })),
  };
}
