// The projection handlers, by provider and event type. A handler runs inside the transaction that records
// the event's outcome, so a projection and its "processed" mark commit together or not at all.
//
// Stripe types are projected by crm/stripe/project.ts, Piano types by crm/piano/project.ts; any other type is
// stored and `ignored` (and listed as unhandled in the health view).
import type { Queryable } from '../db/port.js';
import { PIANO_PROJECTORS, projectPianoEvent } from './piano/project.js';
import { STRIPE_PROJECTORS, projectStripeEvent } from './stripe/project.js';

export { batchCustomerRefs, ensureBatchCatalog } from './stripe/project.js';
import type { PendingWrites, ProjectionOptions, StoredEvent } from './types.js';

export { RefetchNeeded, type StoredEvent } from './types.js';

export interface HandlerOptions {
  /** Provider objects fetched for this event to settle same-second ties, by object id. */
  snapshots?: Map<string, Record<string, unknown>>;
  /** When each of `snapshots` was fetched. */
  snapshotsFetchedAt?: Map<string, Date>;
  /** Whether a tie on this object may be settled by fetching it (the handler then throws RefetchNeeded). */
  refetchable?: (objectId: string) => boolean;
  /** Told of each object the projection settled without fetching it, where `refetchable` said no (by the rank rule,
   *  or without Piano's confirmation): the batch counts those it could have fetched with an API key. */
  notFetched?: (objectId: string) => void;
  /** Seconds before the first delivery attempt of the messages the handler publishes. */
  firstAttemptDelaySeconds?: number;
  /** The clock, ms since the epoch (the worker's ctx.now). */
  now?: () => number;
  /** When a customer the event changed is due for a parity check (now + SLUICE_CHECK_DEBOUNCE_MS). */
  checkDueAt?: Date;
  /** The event was found by a reconciliation scan: what it publishes says so (`source.recovered`). */
  recovered?: boolean;
  /** The batch's writes made once for the batch (messages, customer links). */
  batch?: PendingWrites;
  /** Events of the batch whose product and price stubs are already written. */
  catalogWritten?: ReadonlySet<string>;
}

export type EventHandler = (tx: Queryable, event: StoredEvent, options?: HandlerOptions) => Promise<void>;

export const STRIPE_HANDLED_TYPES = Object.keys(STRIPE_PROJECTORS);
export const PIANO_HANDLED_TYPES = Object.keys(PIANO_PROJECTORS);

/** Projects one stored event of any provider (live processing and rebuild). */
export function projectEvent(tx: Queryable, event: StoredEvent, opts: ProjectionOptions): Promise<boolean> {
  return event.provider === 'piano' ? projectPianoEvent(tx, event, opts) : projectStripeEvent(tx, event, opts);
}

const projectLive: EventHandler = async (tx, event, options = {}) => {
  await projectEvent(tx, event, { publish: true, ...options });
};

const registry: Record<string, Record<string, EventHandler>> = {
  stripe: Object.fromEntries(STRIPE_HANDLED_TYPES.map((t) => [t, projectLive])),
  piano: Object.fromEntries(PIANO_HANDLED_TYPES.map((t) => [t, projectLive])),
};

export function findHandler(provider: string, type: string): EventHandler | undefined {
  // Own keys only: a provider's type is any string, and `constructor` or `__proto__` must not find Object's members.
  const handlers = Object.hasOwn(registry, provider) ? registry[provider]! : undefined;
  return handlers && Object.hasOwn(handlers, type) ? handlers[type] : undefined;
}
