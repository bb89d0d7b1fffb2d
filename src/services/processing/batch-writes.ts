// Writes that every event of a batch makes, held in memory and made once for the whole batch just before it
// commits, instead of once (or several times) per event: the messages the projections publish (one to four per
// event) and the links of events to their customers' timelines. The customer rows themselves are ensured for
// the whole batch before its events run. Each round trip to PostgreSQL costs both processes more CPU than the
// row it writes; this is most of what makes a batch cheaper per event than events one by one.
//
// The CRM object writes cannot wait for the end (a projection reads the row it replaced to know what changed),
// so they are joined instead: events of the batch that run side by side (process-batch.ts) hand their writes
// to `oneTrip`, and the writes made in the same turn of the event loop go out as one statement per table.
//
// The batch holds the transaction all of this commits in, so writing it late changes nothing anyone can see.
// Within the transaction, the one question a projection asks of messages already published ("was this fact
// published?") is answered from here first. An event whose savepoint is rolled back takes what it queued with
// it (mark / rollbackTo).
import type { PendingWrites } from '../../crm/types.js';
import {
  ensureCustomers,
  linkCustomerEvents,
  upsertManyInOneTrip,
  type CrmTable,
  type OneTrip,
  type OneTripWrite,
  type UpsertResult,
} from '../../db/queries/crm.js';
import { storeMessages, type NewMessage } from '../../db/queries/messages.js';
import type { Queryable } from '../../db/port.js';
import { coalesce } from '../../lib/coalesce.js';
import { newId } from '../../lib/ids.js';

const key = (...parts: string[]) => parts.join('\u0000');

export class BatchWrites implements PendingWrites {
  private readonly messages: NewMessage[] = [];
  private readonly messageKeys = new Set<string>();
  private readonly links: { customerId: string; eventId: string }[] = [];
  private customers = new Map<string, string>();
  private readonly upserts: (write: { table: CrmTable; write: OneTripWrite }) => Promise<UpsertResult | undefined>;

  constructor(private readonly tx: Queryable) {
    // Serial: the statements share the transaction's connection anyway, and writes made while one is out join the
    // next. Bounded like the messages below.
    this.upserts = coalesce(
      async (writes) => {
        const answers: (UpsertResult | undefined)[] = new Array(writes.length);
        const byTable = new Map<CrmTable, number[]>();
        writes.forEach((w, i) => {
          const at = byTable.get(w.table);
          if (at) at.push(i);
          else byTable.set(w.table, [i]);
        });
        for (const [table, at] of byTable) {
          const done = await upsertManyInOneTrip(
            this.tx,
            table,
            at.map((i) => writes[i]!.write),
          );
          at.forEach((i, j) => (answers[i] = done[j]));
        }
        return answers;
      },
      { maxBatch: 1000, serial: true },
    );
  }

  /** The first write of upsertGuarded, joined with the other events' writes of the same turn. */
  readonly oneTrip: OneTrip = (table, write) => this.upserts({ table, write });

  /**
   * Ensures the customer rows (stubs when unknown) of `refs` in one statement; a projection asking for one of
   * them then gets its id without a round trip (linkKnownCustomer).
   */
  async ensureCustomers(refs: readonly { workspaceId: string; provider: string; providerId: string }[]): Promise<void> {
    const unique = new Map<string, { workspaceId: string; provider: string; providerId: string; id: string }>();
    for (const r of refs) unique.set(key(r.workspaceId, r.provider, r.providerId), { ...r, id: newId('cus') });
    if (unique.size > 0) this.customers = await ensureCustomers(this.tx, [...unique.values()]);
  }

  linkKnownCustomer(workspaceId: string, provider: string, providerId: string, eventId: string): string | undefined {
    const id = this.customers.get(key(workspaceId, provider, providerId));
    if (id !== undefined) this.links.push({ customerId: id, eventId });
    return id;
  }

  addMessage(message: NewMessage): void {
    // A message for chosen endpoints (a test send) is never published by a projection; keep that path explicit.
    if (message.endpointIds) throw new Error('a message for chosen endpoints cannot be queued');
    const k = key(message.workspaceId, message.dedupeKey);
    // The same fact twice in one batch: the first wins, as ON CONFLICT DO NOTHING would have it.
    if (this.messageKeys.has(k)) return;
    this.messageKeys.add(k);
    this.messages.push(message);
  }

  hasMessage(workspaceId: string, dedupeKey: string): boolean {
    return this.messageKeys.has(key(workspaceId, dedupeKey));
  }

  /** A point to roll back to (before an event runs). */
  mark(): { messages: number; links: number } {
    return { messages: this.messages.length, links: this.links.length };
  }

  /** Forgets what was queued after `mark` (the event's savepoint was rolled back). */
  rollbackTo(mark: { messages: number; links: number }): void {
    for (const m of this.messages.splice(mark.messages)) this.messageKeys.delete(key(m.workspaceId, m.dedupeKey));
    this.links.splice(mark.links);
  }

  /** Whether a flush created a delivery to an enabled endpoint or a workflow trigger: once the batch commits, the
   *  workers that claim them are woken, and only then (an empty claim per batch costs both processes). */
  claimable = false;

  /** Writes everything queued, in the batch's transaction, and empties the queues. */
  async flush(): Promise<void> {
    await linkCustomerEvents(this.tx, this.links.splice(0));
    const messages = this.messages.splice(0);
    this.messageKeys.clear();
    // Bounded statement size: a batch is at most SLUICE_WORKER_BATCH events, each publishing a few messages.
    for (let i = 0; i < messages.length; i += 1000) {
      if ((await storeMessages(this.tx, messages.slice(i, i + 1000))).claimable) this.claimable = true;
    }
  }
}
