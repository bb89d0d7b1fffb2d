// Stripe objects → CRM column values. Handles both payload generations in the wild: 2020-era (period on the
// subscription, `invoice.subscription`) and 2026 (period on subscription items,
// `invoice.parent.subscription_details.subscription`). Fields may be ids or expanded objects.

type Obj = Record<string, unknown>;

export function idOf(v: unknown): string | null {
  if (typeof v === 'string' && v.length > 0) return v;
  if (v && typeof v === 'object' && typeof (v as Obj).id === 'string') return (v as Obj).id as string;
  return null;
}

export function time(v: unknown): Date | null {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? new Date(v * 1000) : null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => {
  const data = obj(v).data;
  return Array.isArray(data) ? (data.filter((x) => x && typeof x === 'object') as Obj[]) : [];
};

export function customerValues(c: Obj) {
  return {
    email: str(c.email),
    name: str(c.name),
    phone: str(c.phone),
    metadata: obj(c.metadata),
  };
}

export function productValues(p: Obj) {
  return { name: str(p.name), description: str(p.description), active: bool(p.active), metadata: obj(p.metadata) };
}

export function priceValues(p: Obj) {
  const recurring = obj(p.recurring);
  return {
    product_provider_id: idOf(p.product),
    nickname: str(p.nickname),
    lookup_key: str(p.lookup_key),
    unit_amount: num(p.unit_amount),
    currency: str(p.currency),
    recurring_interval: str(recurring.interval),
    recurring_interval_count: num(recurring.interval_count),
    active: bool(p.active),
  };
}

export interface CatalogEntry {
  id: string;
  values: Record<string, unknown>;
}

/** A legacy `plan` carries what a price does under other names. */
function planAsPrice(plan: Obj): Obj {
  return { ...plan, unit_amount: plan.amount, recurring: { interval: plan.interval, interval_count: plan.interval_count } };
}

/**
 * Products and prices as far as a subscription or invoice shows them (its items or lines: expanded `price`
 * objects, legacy `plan` objects, 2025+ `pricing.price_details` ids), so the catalogue lists every price a
 * customer pays even when no product or price event was ever received. The first sighting of an id wins.
 */
export function embeddedCatalog(o: Obj): { products: CatalogEntry[]; prices: CatalogEntry[] } {
  const products = new Map<string, Record<string, unknown>>();
  const prices = new Map<string, Record<string, unknown>>();
  const addProduct = (ref: unknown) => {
    const id = idOf(ref);
    if (id && !products.has(id)) products.set(id, typeof ref === 'object' && ref !== null ? productValues(obj(ref)) : {});
  };
  const addPrice = (ref: unknown, productRef?: unknown) => {
    const id = idOf(ref);
    if (!id) return;
    const price = typeof ref === 'object' && ref !== null ? obj(ref) : {};
    const shaped = price.object === 'plan' ? planAsPrice(price) : price;
    if (!prices.has(id)) {
      const values = priceValues(shaped);
      const product = idOf(shaped.product) ?? idOf(productRef);
      prices.set(id, { ...values, product_provider_id: product });
    }
    addProduct(shaped.product ?? productRef);
  };
  const rows = [...list(o.items), ...list(o.lines)];
  for (const row of rows) {
    addPrice(row.price);
    addPrice(row.plan);
    const details = obj(obj(row.pricing).price_details);
    addPrice(details.price, details.product);
    if (!idOf(details.price)) addProduct(details.product);
  }
  addPrice(o.plan);
  const entries = (m: Map<string, Record<string, unknown>>) => [...m].map(([id, values]) => ({ id, values }));
  return { products: entries(products), prices: entries(prices) };
}

export const SUBSCRIPTION_STATUSES = ['trialing', 'active', 'past_due', 'unpaid', 'paused', 'incomplete', 'incomplete_expired', 'canceled'];
export const TERMINAL_SUBSCRIPTION_STATUSES = ['canceled', 'incomplete_expired'];

/** Same-second tie rank: later lifecycle stages win; terminal states win over everything. */
export function subscriptionRank(status: string | null): number {
  switch (status) {
    case 'incomplete':
      return 1;
    case 'trialing':
      return 2;
    case 'active':
      return 3;
    case 'past_due':
      return 4;
    case 'unpaid':
    case 'paused':
      return 5;
    case 'canceled':
    case 'incomplete_expired':
      return 9;
    default:
      return 0;
  }
}

/**
 * The rank an event writes its object with: its stage (subscriptionRank, INVOICE_RANK, …) first, then whether it is
 * the object's `*.created` event. A created event is always its object's first, so in a same-second tie at the
 * same stage every other event of the object is the later state: it must win however the event ids sort (Stripe's
 * ids are not in time order; with the stage alone, a created event with the larger id won half the ties and left
 * the row as it was before the update). The created step is the lowest, so stages still order as documented.
 */
export function eventRank(stage: number, eventType: string): number {
  return stage * 2 + (eventType.endsWith('.created') ? 0 : 1);
}

export function subscriptionValues(s: Obj) {
  const items = list(s.items);
  const first = items[0] ?? {};
  const price = obj(first.price ?? first.plan);
  const status = str(s.status);
  return {
    status: status && SUBSCRIPTION_STATUSES.includes(status) ? status : status,
    price_provider_id: idOf(first.price ?? first.plan),
    product_provider_id: idOf(price.product),
    plan_name: str(price.nickname) ?? str(obj(price.product).name) ?? str(price.lookup_key),
    quantity: num(first.quantity) ?? num(s.quantity),
    items: items.map((i) => ({
      id: idOf(i),
      price: idOf(i.price ?? i.plan),
      product: idOf(obj(i.price ?? i.plan).product),
      quantity: num(i.quantity),
      currentPeriodStart: time(i.current_period_start)?.toISOString() ?? null,
      currentPeriodEnd: time(i.current_period_end)?.toISOString() ?? null,
    })),
    // 2020-era: on the subscription; 2026: on each item.
    current_period_start: time(s.current_period_start) ?? time(first.current_period_start),
    current_period_end: time(s.current_period_end) ?? time(first.current_period_end),
    cancel_at_period_end: bool(s.cancel_at_period_end) ?? false,
    cancel_at: time(s.cancel_at),
    canceled_at: time(s.canceled_at),
    ended_at: time(s.ended_at),
    trial_start: time(s.trial_start),
    trial_end: time(s.trial_end),
    pause_collection: pauseCollection(s.pause_collection),
    metadata: obj(s.metadata),
  };
}

/**
 * Stripe's `pause_collection` as Stripe sends it (`{behavior, resumes_at}`), or null when collection is not paused.
 * A paused collection leaves the status `active`, so this column is the only sign of it; anything that is not an
 * object (absent in older payloads, or malformed) reads as not paused.
 */
export function pauseCollection(v: unknown): Obj | null {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null;
}

export function invoiceSubscriptionId(i: Obj): string | null {
  return idOf(i.subscription) ?? idOf(obj(obj(i.parent).subscription_details).subscription);
}

export function invoiceValues(i: Obj) {
  const transitions = obj(i.status_transitions);
  return {
    subscription_provider_id: invoiceSubscriptionId(i),
    number: str(i.number),
    status: str(i.status),
    billing_reason: str(i.billing_reason),
    currency: str(i.currency),
    amount_due: num(i.amount_due),
    amount_paid: num(i.amount_paid),
    amount_remaining: num(i.amount_remaining),
    total: num(i.total),
    attempt_count: num(i.attempt_count),
    paid_at: time(transitions.paid_at) ?? (i.status === 'paid' ? (time(i.webhooks_delivered_at) ?? time(i.created)) : null),
    period_start: time(i.period_start),
    period_end: time(i.period_end),
    hosted_invoice_url: str(i.hosted_invoice_url),
  };
}

/**
 * The payment behind a paid invoice, where the payload names it: top-level `payment_intent` / `charge` (API
 * versions before 2025-03-31), or the `payments` list (later versions, when included in the payload).
 */
export function invoicePaymentRef(i: Obj): { paymentIntent: string | null; charge: string | null } {
  const listed = Array.isArray(obj(i.payments).data) ? (obj(i.payments).data as Obj[]) : [];
  const paid = listed.map((p) => obj(obj(p).payment)).find((p) => idOf(p.payment_intent) || idOf(p.charge));
  return {
    paymentIntent: idOf(i.payment_intent) ?? idOf(paid?.payment_intent),
    charge: idOf(i.charge) ?? idOf(paid?.charge),
  };
}

/** An InvoicePayment (API 2025-03-31 and later): the one place that links an invoice to the payment intent or
 *  charge that paid it, since neither of those names the other any more. */
export function invoicePaymentValues(ip: Obj) {
  const payment = obj(ip.payment);
  return {
    kind: 'invoice_payment',
    invoice_provider_id: idOf(ip.invoice),
    payment_intent_provider_id: idOf(payment.payment_intent),
    charge_provider_id: idOf(payment.charge),
    status: str(ip.status),
    amount: num(ip.amount_paid) ?? num(ip.amount_requested),
    amount_refunded: null,
    currency: str(ip.currency),
    failure_message: null,
  };
}

export const INVOICE_RANK: Record<string, number> = { draft: 1, open: 2, uncollectible: 3, paid: 9, void: 9 };

export function paymentIntentValues(p: Obj) {
  return {
    kind: 'payment_intent',
    invoice_provider_id: idOf(p.invoice),
    payment_intent_provider_id: idOf(p),
    charge_provider_id: idOf(p.latest_charge),
    status: str(p.status),
    amount: num(p.amount),
    amount_refunded: null,
    currency: str(p.currency),
    failure_message: str(obj(p.last_payment_error).message),
  };
}

export const PAYMENT_INTENT_RANK: Record<string, number> = {
  requires_payment_method: 1,
  requires_confirmation: 2,
  requires_action: 3,
  processing: 4,
  requires_capture: 5,
  succeeded: 9,
  canceled: 9,
};

export function chargeValues(c: Obj) {
  return {
    kind: 'charge',
    invoice_provider_id: idOf(c.invoice),
    payment_intent_provider_id: idOf(c.payment_intent),
    charge_provider_id: idOf(c),
    status: str(c.status),
    amount: num(c.amount),
    amount_refunded: num(c.amount_refunded),
    currency: str(c.currency),
    failure_message: str(c.failure_message),
  };
}

export const CHARGE_RANK: Record<string, number> = { pending: 1, failed: 8, succeeded: 8 };

export function refundValues(r: Obj, charge: Obj) {
  return {
    kind: 'refund',
    invoice_provider_id: idOf(charge.invoice),
    payment_intent_provider_id: idOf(r.payment_intent) ?? idOf(charge.payment_intent),
    charge_provider_id: idOf(r.charge) ?? idOf(charge),
    status: str(r.status),
    amount: num(r.amount),
    amount_refunded: null,
    currency: str(r.currency),
    failure_message: str(r.reason) ?? str(r.failure_reason),
    refund_created_at: time(r.created),
  };
}

/** A refund goes pending (or requires_action) → succeeded, and any of these may end failed or canceled: those come
 *  last, so they win a same-second tie with the succeeded state they end. */
export const REFUND_RANK: Record<string, number> = { pending: 1, requires_action: 1, succeeded: 8, failed: 9, canceled: 9 };

/** Refunds that gave nothing back: Stripe returns their amount to the charge, whose amount_refunded no longer counts
 *  them (it counts every other refund, from its creation, pending ones included). */
export const UNDONE_REFUND_STATUSES = ['failed', 'canceled'];

export function disputeValues(d: Obj) {
  return {
    kind: 'dispute',
    invoice_provider_id: null,
    payment_intent_provider_id: idOf(d.payment_intent),
    charge_provider_id: idOf(d.charge),
    status: str(d.status),
    amount: num(d.amount),
    amount_refunded: null,
    currency: str(d.currency),
    failure_message: str(d.reason),
  };
}

/**
 * A dispute's stages: an inquiry (warning_*) may become a chargeback (needs_response), whose evidence is then under
 * review; won, lost, warning_closed (an inquiry that ended) and prevented are final and win a same-second tie.
 */
export const DISPUTE_RANK: Record<string, number> = {
  warning_needs_response: 1,
  warning_under_review: 2,
  needs_response: 3,
  under_review: 4,
  won: 9,
  lost: 9,
  warning_closed: 9,
  prevented: 9,
};

export function checkoutValues(c: Obj) {
  return {
    mode: str(c.mode),
    status: str(c.status),
    payment_status: str(c.payment_status),
    subscription_provider_id: idOf(c.subscription),
    payment_intent_provider_id: idOf(c.payment_intent),
    amount_total: num(c.amount_total),
    currency: str(c.currency),
  };
}

export const CHECKOUT_RANK: Record<string, number> = { open: 1, complete: 9, expired: 9 };

export function entitlementKeys(summary: Obj): { lookupKey: string; entitlementId: string | null }[] {
  return list(summary.entitlements)
    .map((e) => ({ lookupKey: str(e.lookup_key) ?? idOf(e.feature) ?? '', entitlementId: idOf(e) }))
    .filter((e) => e.lookupKey !== '');
}
