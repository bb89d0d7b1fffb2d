// What each event of a list is about, for the console's events table: the object id and customer its payload
// names, and the customers the CRM linked it to (for a deep link).
import { customersOfEvents, type LinkedCustomer } from '../../db/queries/crm-read.js';
import { eventRefs } from '../../db/queries/events.js';
import type { Ctx } from '../context.js';

export interface EventAbout {
  objectId: string | null;
  customerRef: string | null;
  customers: Omit<LinkedCustomer, 'eventId'>[];
}

/** By event id; events not found (deleted meanwhile) are absent. Two primary-key reads of at most 500 ids. */
export async function eventsAbout(ctx: Ctx, workspaceId: string, eventIds: string[]): Promise<Map<string, EventAbout>> {
  const [refs, linked] = await Promise.all([eventRefs(ctx.db, workspaceId, eventIds), customersOfEvents(ctx.db, workspaceId, eventIds)]);
  const out = new Map<string, EventAbout>();
  for (const r of refs) out.set(r.id, { objectId: r.objectId, customerRef: r.customerRef, customers: [] });
  for (const { eventId, ...customer } of linked) out.get(eventId)?.customers.push(customer);
  return out;
}
