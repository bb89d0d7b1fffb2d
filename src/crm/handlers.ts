// The projection handlers, by provider and event type. A handler runs inside the transaction that records
// the event's outcome, so a projection and its "processed" mark commit together or not at all.
//
// The CRM tables arrive with the CRM issue; until then the Stripe types that the CRM will project are
// registered with a handler that has nothing to write yet, so they are reported `processed` while every
// other type is `ignored` (and listed as unhandled in the health view).
import type { Queryable } from '../db/port.js';

export interface StoredEvent {
  id: string;
  workspaceId: string;
  provider: string;
  type: string;
  payload: unknown;
}

export type EventHandler = (tx: Queryable, event: StoredEvent) => Promise<void>;

export const STRIPE_HANDLED_TYPES = [
  'checkout.session.completed',
  'checkout.session.expired',
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.trial_will_end',
  'invoice.created',
  'invoice.finalized',
  'invoice.updated',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.voided',
  'invoice.marked_uncollectible',
  'payment_intent.created',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'charge.succeeded',
  'charge.failed',
  'charge.refunded',
  'charge.updated',
  'charge.dispute.created',
  'charge.dispute.closed',
  'product.created',
  'product.updated',
  'product.deleted',
  'price.created',
  'price.updated',
  'price.deleted',
  'entitlements.active_entitlement_summary.updated',
] as const;

const recordOnly: EventHandler = async () => {};

const registry: Record<string, Record<string, EventHandler>> = {
  stripe: Object.fromEntries(STRIPE_HANDLED_TYPES.map((t) => [t, recordOnly])),
};

export function findHandler(provider: string, type: string): EventHandler | undefined {
  return registry[provider]?.[type];
}
