// Types shared by the projections and their registry (kept apart so that crm/ has no import cycle).
import type { CrmTable, OneTrip } from '../db/queries/crm.js';
import type { NewMessage } from '../db/queries/messages.js';

export interface StoredEvent {
  id: string;
  workspaceId: string;
  provider: string;
  type: string;
  payload: unknown;
  /** When Sluice stored it: the time of facts whose event carries none (Piano access events). */
  receivedAt?: Date;
}

export interface ProjectionOptions {
  /** False while rebuilding: the rows are restored, but facts already published are not published again. */
  publish: boolean;
  /** Row id for a new row; a rebuild passes the ids the rows had, so references to them stay valid. */
  rowId?: (table: CrmTable, providerId: string) => string | undefined;
  /** Objects fetched from Stripe's API for this event (by object id) to settle a same-second tie. */
  snapshots?: Map<string, Record<string, unknown>>;
  /** When each of `snapshots` was fetched: a fetched charge's refunded figure is as of then. */
  snapshotsFetchedAt?: Map<string, Date>;
  /** Whether a tie on this object may be settled by fetching it: the projection then throws RefetchNeeded. */
  refetchable?: (objectId: string) => boolean;
  /** Told of each object the projection settled without fetching it, where `refetchable` said no (by the rank rule,
   *  or without Piano's confirmation): the batch counts those it could have fetched with an API key. */
  notFetched?: (objectId: string) => void;
  /** The clock (ms since the epoch) for facts that depend on "now" (e.g. whether an access is still live); injected for tests. */
  now?: () => number;
  /** Seconds before the first delivery attempt of what is published (SLUICE_RETRY_SCHEDULE's first value). */
  firstAttemptDelaySeconds?: number;
  /** When a customer whose subscriptions or access the event changed is due for a parity check (debounced);
   *  absent while rebuilding, which marks nobody. */
  checkDueAt?: Date;
  /** The event was found by a reconciliation scan: its messages carry `source.recovered: true`. */
  recovered?: boolean;
  /** The writes of a batch of events made once for the batch (services/processing/batch-writes.ts): messages
   *  are queued there instead of one INSERT each, and customers it already ensured are linked there. Absent: each
   *  write is made as the projection asks for it. */
  batch?: PendingWrites;
  /** Events whose product and price stubs the batch has already written (crm/stripe ensureBatchCatalog). */
  catalogWritten?: ReadonlySet<string>;
}

/** Writes of a batch of events made once, just before it commits (see services/processing/batch-writes.ts). */
export interface PendingWrites {
  /** Queues a message; a fact already queued (same workspace and dedupe key) is not queued twice. */
  addMessage(message: NewMessage): void;
  /** Whether a message with this dedupe key is queued. */
  hasMessage(workspaceId: string, dedupeKey: string): boolean;
  /** The row id of a customer the batch has ensured, its link to the event queued; undefined when not ensured. */
  linkKnownCustomer(workspaceId: string, provider: string, providerId: string, eventId: string): string | undefined;
  /** Object writes joined with those of the batch's other events (upsertGuarded's first statement). */
  oneTrip: OneTrip;
}

/**
 * Thrown inside the projection's transaction when a same-second tie could be settled by fetching the object
 * from Stripe. The caller rolls back, fetches outside any transaction, and projects again with the snapshot.
 */
export class RefetchNeeded extends Error {
  constructor(readonly objectId: string) {
    super(`same-second tie on ${objectId}: fetch it from Stripe to settle`);
    this.name = 'RefetchNeeded';
  }
}
