// Stripe events → CRM rows and business events. Each function runs inside the transaction that marks the
// event processed. Business events are derived from the change (old row vs new row), so a replayed or
// older event, which the version guard does not apply, publishes nothing.
import type { Queryable } from '../../db/port.js';
import {
  activeAccessForCustomer,
  claimNewestSummary,
  ensureCustomerLinked,
  ensureStubs,
  findCrmRow,
  invoiceOfPaymentIntent,
  linkCustomerEvent,
  paymentIntentOfInvoice,
  noteRefundUndone,
  recountChargeRefunded,
  refundsUndoneAround,
  adoptChargeRefunds,
  upsertGuarded,
  type CrmRow,
  type CrmTable,
  isTie,
  type TieResolver,
} from '../../db/queries/crm.js';
import { findMessageByDedupeKey, publishMessage } from '../../db/queries/messages.js';
import { newId } from '../../lib/ids.js';
import { RefetchNeeded, type ProjectionOptions, type StoredEvent } from '../types.js';

export { RefetchNeeded, type ProjectionOptions };
import { linkPersonByEmail } from '../link-person.js';
import {
  CHARGE_RANK,
  CHECKOUT_RANK,
  DISPUTE_RANK,
  eventRank,
  INVOICE_RANK,
  PAYMENT_INTENT_RANK,
  TERMINAL_SUBSCRIPTION_STATUSES,
  chargeValues,
  checkoutValues,
  customerValues,
  disputeValues,
  embeddedCatalog,
  entitlementKeys,
  idOf,
  invoicePaymentRef,
  invoicePaymentValues,
  invoiceValues,
  paymentIntentValues,
  priceValues,
  productValues,
  REFUND_RANK,
  refundValues,
  subscriptionRank,
  subscriptionValues,
  UNDONE_REFUND_STATUSES,
} from './normalize.js';

type Obj = Record<string, unknown>;

/** The rank step of a charge's status stage (see projectCharge): 8 steps and a refunded amount fit in an int4. */
const CHARGE_RANK_STEP = 200_000_000;

const ROW_PREFIX: Record<CrmTable, string> = {
  customers: 'cus',
  products: 'prod',
  prices: 'price',
  subscriptions: 'sub',
  invoices: 'inv',
  payments: 'pay',
  checkout_sessions: 'cs',
  access: 'acc',
};

class Projection {
  readonly ts: Date;
  readonly providerEventId: string;
  readonly object: Obj;

  constructor(
    readonly tx: Queryable,
    readonly event: StoredEvent,
    readonly opts: ProjectionOptions,
  ) {
    const payload = event.payload as Obj;
    this.ts = new Date(Number(payload.created) * 1000);
    this.providerEventId = String(payload.id);
    this.object = (payload.data as Obj).object as Obj;
  }

  rowId(table: CrmTable, providerId: string): string {
    return this.opts.rowId?.(table, providerId) ?? newId(ROW_PREFIX[table]);
  }

  key(providerId: string) {
    return { workspaceId: this.event.workspaceId, provider: 'stripe', providerId };
  }

  version(rank: number, deleted = false, resurrects = false) {
    return { ts: this.ts, rank, eventId: this.providerEventId, deleted, ...(resurrects ? { resurrects } : {}) };
  }

  upsert(table: CrmTable, providerId: string, values: Obj | ((old: CrmRow | undefined) => Obj), rank: number, deleted = false) {
    return upsertGuarded(
      this.tx,
      table,
      this.key(providerId),
      values,
      this.version(rank, deleted),
      () => this.rowId(table, providerId),
      undefined,
      this.opts.batch?.oneTrip,
    );
  }

  /**
   * Writes the event's own object. A same-second tie with another event is settled by the object as Stripe
   * has it now (a stored snapshot, or fetched on request), else by the rank rule.
   */
  async upsertObject(table: CrmTable, toValues: (object: Obj) => Obj, rank: number, deleted = false, resurrects = false) {
    const providerId = idOf(this.object)!;
    const snapshot = this.opts.snapshots?.get(providerId);
    const fetchable = !snapshot && (this.opts.refetchable?.(providerId) ?? false);
    // Without a snapshot to apply or a fetch to ask for, a tie is settled by the rank rule: no resolver, which lets
    // the write take one round trip whatever happens.
    const resolveTie: TieResolver | undefined =
      snapshot || fetchable
        ? () => {
            if (!snapshot) throw new RefetchNeeded(providerId);
            // A deleted object comes back as a bare {id, deleted: true}: keep the event's fields, mark it deleted.
            return snapshot.deleted === true
              ? { values: toValues(this.object), deleted: true }
              : { values: toValues(snapshot), deleted: false };
          }
        : undefined;
    const version = this.version(rank, deleted, resurrects);
    const result = await upsertGuarded(
      this.tx,
      table,
      this.key(providerId),
      toValues(this.object),
      version,
      () => this.rowId(table, providerId),
      resolveTie,
      this.opts.batch?.oneTrip,
    );
    if (!resolveTie && result.old && isTie(result.old, version)) this.opts.notFetched?.(providerId);
    return result;
  }

  /** The customer row for a Stripe customer id (a stub until its own event arrives), linked to this event. */
  async customer(ref: unknown): Promise<string | null> {
    const providerId = idOf(ref);
    if (!providerId) return null;
    const known = this.opts.batch?.linkKnownCustomer(this.event.workspaceId, 'stripe', providerId, this.event.id);
    if (known !== undefined) return known;
    return ensureCustomerLinked(this.tx, this.key(providerId), this.event.id, () => this.rowId('customers', providerId));
  }

  /** Whether a message for this fact was already published (under a key another event of the fact used). */
  async published(type: string, fact: string): Promise<boolean> {
    const key = `${type}:${fact}`;
    if (this.opts.batch?.hasMessage(this.event.workspaceId, key)) return true;
    return (await findMessageByDedupeKey(this.tx, this.event.workspaceId, key)) !== undefined;
  }

  async publish(type: string, fact: string, data: Obj): Promise<void> {
    if (!this.opts.publish) return;
    const message = {
      id: newId('msg'),
      workspaceId: this.event.workspaceId,
      type,
      data,
      sourceProvider: 'stripe',
      sourceEventId: this.providerEventId,
      dedupeKey: `${type}:${fact}`,
      firstAttemptDelaySeconds: this.opts.firstAttemptDelaySeconds ?? 0,
      recovered: this.opts.recovered ?? false,
    };
    if (this.opts.batch) this.opts.batch.addMessage(message);
    else await publishMessage(this.tx, message);
  }
}

/** Rows for the products and prices a subscription or invoice shows, when not known yet: stubs with what the
 *  object says, listed at once; their own product/price events overwrite them whenever they arrive. */
async function ensureCatalog(p: Projection, object: Obj): Promise<void> {
  if (p.opts.catalogWritten?.has(p.event.id)) return;
  const { products, prices } = embeddedCatalog(object);
  const stubs = (table: CrmTable, entries: typeof products) =>
    entries.map(({ id, values }) => ({ id: p.rowId(table, id), providerId: id, values }));
  await ensureStubs(p.tx, p.event.workspaceId, 'stripe', [
    { table: 'products', stubs: stubs('products', products) },
    { table: 'prices', stubs: stubs('prices', prices) },
  ]);
}

const firstKnown = (old: CrmRow | undefined) => old === undefined || old.stub;

function customerData(row: CrmRow): Obj {
  return {
    id: row.id,
    provider: 'stripe',
    providerId: row.provider_id,
    email: row.email ?? null,
    name: row.name ?? null,
    deleted: row.deleted,
  };
}

function subscriptionData(row: CrmRow): Obj {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : null);
  return {
    id: row.id,
    provider: 'stripe',
    providerId: row.provider_id,
    customerId: row.customer_id ?? null,
    status: row.status,
    priceId: row.price_provider_id ?? null,
    planName: row.plan_name ?? null,
    quantity: row.quantity ?? null,
    currentPeriodEnd: iso(row.current_period_end),
    cancelAtPeriodEnd: row.cancel_at_period_end,
    trialEnd: iso(row.trial_end),
  };
}

async function projectCustomer(p: Projection, deleted: boolean): Promise<void> {
  const c = p.object;
  const providerId = idOf(c)!;
  const r = await p.upsertObject('customers', customerValues, eventRank(deleted ? 9 : 1, p.event.type), deleted);
  await linkCustomerEvent(p.tx, r.row.id, p.event.id);
  await linkPersonByEmail(p.tx, p.event.workspaceId, r.row);
  if (!r.applied) return;
  const data = { customer: customerData(r.row) };
  if (firstKnown(r.old)) await p.publish('customer.created', `customer:${providerId}`, data);
  else if (!r.old!.deleted && !r.row.deleted) {
    const changed =
      ['email', 'name', 'phone'].some((k) => r.old![k] !== r.row[k]) || JSON.stringify(r.old!.metadata) !== JSON.stringify(r.row.metadata);
    if (changed) await p.publish('customer.updated', `customer:${providerId}:${p.providerEventId}`, data);
  }
  if (r.row.deleted && !r.old?.deleted) await p.publish('customer.deleted', `customer:${providerId}`, data);
}

/**
 * A subscription Stripe no longer knows (a reconciliation scan got 404 fetching it): a tombstone, so no late event
 * brings it back. It ends if it had not: the same facts as an unscheduled end.
 */
async function projectSubscriptionGone(p: Projection): Promise<void> {
  const providerId = idOf(p.object)!;
  const terminal = (row: CrmRow | undefined) => row !== undefined && TERMINAL_SUBSCRIPTION_STATUSES.includes(String(row.status));
  const r = await p.upsert(
    'subscriptions',
    providerId,
    (old) => (terminal(old) ? {} : { status: 'canceled', ended_at: (old?.ended_at as Date | null) ?? p.ts }),
    eventRank(subscriptionRank('canceled'), p.event.type),
    true,
  );
  if (!r.applied || !r.old || r.old.stub || terminal(r.old)) return;
  const data = { subscription: subscriptionData(r.row) };
  const fact = `subscription:${providerId}`;
  if (r.old.cancel_at_period_end !== true) {
    await p.publish('subscription.canceled', `${fact}:${p.providerEventId}`, { ...data, endsAt: p.ts.toISOString() });
  }
  await p.publish('subscription.ended', fact, data);
}

async function projectSubscription(p: Projection): Promise<void> {
  const s = p.object;
  if (s.deleted === true) return projectSubscriptionGone(p);
  const providerId = idOf(s)!;
  const customerId = await p.customer(s.customer);
  const values = (o: Obj) => ({ ...subscriptionValues(o), customer_id: customerId });
  const r = await p.upsertObject('subscriptions', values, eventRank(subscriptionRank(subscriptionValues(s).status), p.event.type));
  await ensureCatalog(p, s);
  if (!r.applied) return;
  const old = firstKnown(r.old) ? undefined : r.old;
  const now = r.row;
  const data = { subscription: subscriptionData(now) };
  const fact = `subscription:${providerId}`;
  const terminal = (row: CrmRow | undefined) => row !== undefined && TERMINAL_SUBSCRIPTION_STATUSES.includes(String(row.status));

  if (!old) await p.publish('subscription.created', fact, data);
  if (now.status === 'trialing' && old?.status !== 'trialing') await p.publish('trial.started', fact, data);
  if (old?.status === 'trialing' && now.status !== 'trialing') await p.publish('trial.ended', fact, data);
  if (now.status === 'active' && old?.status !== 'active') await p.publish('subscription.activated', `${fact}:${p.providerEventId}`, data);
  const cancellationScheduled = now.cancel_at_period_end === true && old?.cancel_at_period_end !== true;
  const endedUnscheduled = terminal(now) && !terminal(old) && old?.cancel_at_period_end !== true;
  if (cancellationScheduled || endedUnscheduled) {
    const endsAt = (now.cancel_at ?? now.current_period_end ?? now.ended_at ?? now.canceled_at) as Date | null;
    await p.publish('subscription.canceled', `${fact}:${p.providerEventId}`, { ...data, endsAt: endsAt?.toISOString() ?? null });
  }
  if (terminal(now) && !terminal(old)) await p.publish('subscription.ended', fact, data);
  if (old && !terminal(now)) {
    const changed =
      ['price_provider_id', 'quantity'].some((k) => old[k] !== now[k]) ||
      (old.cancel_at_period_end === true && now.cancel_at_period_end === false);
    if (changed) await p.publish('subscription.updated', `${fact}:${p.providerEventId}`, data);
  }
}

async function projectInvoice(p: Projection): Promise<void> {
  const i = p.object;
  const providerId = idOf(i)!;
  const customerId = await p.customer(i.customer);
  const values = (o: Obj) => ({ ...invoiceValues(o), customer_id: customerId });
  // Only a draft can be deleted, and for good: its row stays as a tombstone (deleted: true, as a deleted customer's
  // does), so no late invoice.updated or .finalized of the draft brings it back as a draft or open invoice. Ignored,
  // the deleted draft stayed in the CRM as a live one.
  const deleted = p.event.type === 'invoice.deleted';
  const stage = deleted ? 9 : (INVOICE_RANK[invoiceValues(i).status ?? ''] ?? 0);
  const r = await p.upsertObject('invoices', values, eventRank(stage, p.event.type), deleted);
  await ensureCatalog(p, i);
  const now = r.row;
  const data = {
    invoice: {
      id: now.id,
      providerId,
      customerId,
      subscriptionId: now.subscription_provider_id ?? null,
      status: now.status,
      amountPaid: now.amount_paid,
      amountDue: now.amount_due,
      currency: now.currency,
      billingReason: now.billing_reason,
      hostedInvoiceUrl: now.hosted_invoice_url,
    },
  };
  await publishFailedAttempt(p, providerId, now, data);
  if (!r.applied) return;
  const old = firstKnown(r.old) ? undefined : r.old;
  if (now.status === 'paid' && old?.status !== 'paid') {
    // One payment, one payment.succeeded: the fact is the payment intent (shared with its charge's event,
    // whichever comes first), else the invoice itself (paid out of band, or its payment not named anywhere yet).
    const ref = invoicePaymentRef(i);
    const paymentIntent = ref.paymentIntent ?? (await paymentIntentOfInvoice(p.tx, p.event.workspaceId, providerId)) ?? null;
    const paymentFact = paymentIntent ?? ref.charge;
    const paymentData = { ...data, payment: { paymentIntentId: paymentIntent, chargeId: ref.charge } };
    if (paymentFact) await p.publish('payment.succeeded', `payment:${paymentFact}`, paymentData);
    else await p.publish('payment.succeeded', `invoice:${providerId}`, paymentData);
    if (now.billing_reason === 'subscription_cycle') await p.publish('subscription.renewed', `invoice:${providerId}`, data);
  }
}

/**
 * payment.failed, once per failed attempt (the attempt count is in the fact), from the invoice.payment_failed event
 * itself. It does not depend on the event moving the row: the invoice.updated Stripe sends for the same failure
 * carries the same attempt count and often the same second, and when it was projected first the row no longer
 * changed (or the tie went to it), so the failure used to be published never. A notice of an attempt older than the
 * row's latest, or of an invoice since paid, is not published: the failure it reports is no longer the news.
 */
async function publishFailedAttempt(p: Projection, providerId: string, now: CrmRow, data: Obj): Promise<void> {
  if (p.event.type !== 'invoice.payment_failed' || now.status === 'paid' || now.deleted) return;
  const attempts = Number(invoiceValues(p.object).attempt_count ?? 0);
  if (attempts <= 0 || attempts < Number(now.attempt_count ?? 0)) return;
  await p.publish('payment.failed', `invoice:${providerId}:${attempts}`, data);
}

async function projectPaymentIntent(p: Projection): Promise<void> {
  const pi = p.object;
  const customerId = await p.customer(pi.customer);
  const values = (o: Obj) => ({ ...paymentIntentValues(o), customer_id: customerId });
  await p.upsertObject('payments', values, eventRank(PAYMENT_INTENT_RANK[paymentIntentValues(pi).status ?? ''] ?? 0, p.event.type));
}

async function projectCharge(p: Projection): Promise<void> {
  const c = p.object;
  const providerId = idOf(c)!;
  const customerId = await p.customer(c.customer);
  const own = chargeValues(c);
  // The refunds it lists first, so that those it says failed count as failed by its time below.
  await projectRefunds(p, c, customerId);
  const reported = Number(own.amount_refunded ?? 0) || 0;
  const undone = reported > 0 || listedRefunds(c).length > 0 ? await refundsUndoneAround(p.tx, p.key(providerId), p.ts) : undefined;
  const values = (o: Obj) => {
    const v = { ...chargeValues(o), customer_id: customerId };
    // The event's own object: what it reported is kept, and the refunds it counted that failed since are taken off
    // (recountChargeRefunded does the same when such a failure is projected after it). A charge fetched to settle
    // a tie counts every refund's end up to its fetch: its figure is kept as of then, and the recount below takes
    // off what failed after. (A fetch of unknown time keeps no figure: nothing can be taken off it.)
    if (o !== c) {
      const fetchedAt = p.opts.snapshotsFetchedAt?.get(providerId);
      return { ...v, reported_amount_refunded: fetchedAt ? v.amount_refunded : null, reported_as_of: fetchedAt ?? null };
    }
    const counted = Math.max(reported - (undone?.undoneAfter ?? 0), 0);
    return {
      ...v,
      reported_amount_refunded: own.amount_refunded,
      reported_as_of: null,
      amount_refunded: own.amount_refunded === null ? null : counted,
    };
  };
  // amount_refunded only grows, so it extends the rank: a later refund state wins a same-second tie. The rank is
  // an int4 column: the status stage steps by 200,000,000 so that its highest (8) plus any refunded amount below
  // that stays under 2^31. (Stepping by 10^9 put every succeeded or failed charge at the int4 cap whatever it had
  // refunded, so a charge.succeeded could win its same-second charge.refunded and the refund was lost.)
  const stage = CHARGE_RANK[own.status ?? ''] ?? 0;
  const refunded = Math.min(Math.max(reported, 0), CHARGE_RANK_STEP - 1);
  const r = await p.upsertObject('payments', values, stage * CHARGE_RANK_STEP + refunded);
  if (r.applied && r.row.reported_as_of) {
    const recounted = await recountChargeRefunded(p.tx, p.key(providerId));
    if (recounted !== undefined) r.row.amount_refunded = recounted;
  }
  if (customerId) {
    const adopted = await adoptChargeRefunds(p.tx, p.key(providerId), customerId, own.invoice_provider_id);
    for (const eventId of adopted) await linkCustomerEvent(p.tx, customerId, eventId);
  }
  if (!r.applied) return;
  const old = firstKnown(r.old) ? undefined : r.old;
  const now = r.row;
  const data = {
    payment: {
      id: now.id,
      providerId,
      customerId,
      amount: now.amount,
      amountRefunded: now.amount_refunded,
      currency: now.currency,
      status: now.status,
    },
  };
  if (now.status === 'succeeded' && old?.status !== 'succeeded') {
    // The same fact as the invoice's payment.succeeded (see projectInvoice): keyed by the payment intent, and
    // not published again when its invoice already published it under the invoice's own key.
    const paymentIntent = (now.payment_intent_provider_id as string | null) ?? null;
    const invoiceId =
      (now.invoice_provider_id as string | null) ??
      (paymentIntent ? await invoiceOfPaymentIntent(p.tx, p.event.workspaceId, paymentIntent) : undefined) ??
      null;
    const alreadyByInvoice = invoiceId !== null && (await p.published('payment.succeeded', `invoice:${invoiceId}`));
    if (!alreadyByInvoice) {
      const fact = `payment:${paymentIntent ?? providerId}`;
      await p.publish('payment.succeeded', fact, { ...data, invoice: invoiceId ? { providerId: invoiceId } : null });
    }
  }
  // Failed invoice payments are published from the invoice (with its attempt count); one-off charges here.
  if (!now.invoice_provider_id && now.status === 'failed' && old?.status !== 'failed') {
    await p.publish('payment.failed', `charge:${providerId}`, data);
  }
  if (Number(now.amount_refunded ?? 0) > Number(old?.amount_refunded ?? 0)) {
    // Keyed by all that was ever refunded by then, failed refunds included: a new refund of the amount a failed one
    // had is news of its own, where the charge's amount_refunded alone says the same figure again.
    const gross = Number(now.reported_amount_refunded ?? now.amount_refunded) + (undone?.undoneBy ?? 0);
    await p.publish('order.refunded', `charge:${providerId}:${String(gross)}`, data);
  }
}

/** The refunds a charge lists (`charge.refunds.data`, in payloads of API versions that embed them). */
function listedRefunds(charge: Obj): Obj[] {
  const list = (charge.refunds as { data?: unknown } | undefined)?.data;
  return Array.isArray(list) ? (list as Obj[]).filter((r) => r && typeof r === 'object') : [];
}

/** Refunds listed on the charge become payment rows of their own. */
async function projectRefunds(p: Projection, charge: Obj, customerId: string | null): Promise<void> {
  for (const refund of listedRefunds(charge)) {
    const providerId = idOf(refund);
    if (!providerId) continue;
    const values = { ...refundValues(refund, charge), customer_id: customerId };
    await p.upsert('payments', providerId, values, REFUND_RANK[values.status ?? ''] ?? 0);
    if (UNDONE_REFUND_STATUSES.includes(values.status ?? '')) await noteRefundUndone(p.tx, p.key(providerId), p.ts);
  }
}

/**
 * charge.refund.updated (its object is the Refund): a pending refund succeeded, a refund failed or was canceled, or
 * its metadata changed. It writes the refund's own row, the one a refund listed on its charge writes, under the
 * version rule (a same-second tie goes to the refund's end: REFUND_RANK). The charge's amountRefunded counts a refund
 * from its creation (the charge.refunded sent then says so), so a refund that succeeds adds nothing to it, and is not
 * counted twice; one that failed or was canceled is no longer counted by the charge events it is older than
 * (noteRefundUndone keeps the earliest time it was seen ended, whatever the order, and recountChargeRefunded applies
 * it; projectCharge does the same when the charge's event comes later). Publishes nothing: no business event says
 * that a refund failed.
 */
async function projectRefundUpdate(p: Projection): Promise<void> {
  const refund = p.object;
  const chargeId = idOf(refund.charge);
  const found = chargeId ? await findCrmRow(p.tx, 'payments', p.event.workspaceId, 'stripe', chargeId) : undefined;
  const charge = found && !found.stub ? found : undefined;
  // A refund names no customer: it is the charge's, when the charge is known.
  const customerId = (charge?.customer_id as string | null | undefined) ?? null;
  if (customerId) await linkCustomerEvent(p.tx, customerId, p.event.id);
  const chargeRefs = {
    id: chargeId,
    invoice: charge?.invoice_provider_id ?? null,
    payment_intent: charge?.payment_intent_provider_id ?? null,
  };
  const status = refundValues(refund, chargeRefs).status;
  await p.upsertObject('payments', (o) => ({ ...refundValues(o, chargeRefs), customer_id: customerId }), REFUND_RANK[status ?? ''] ?? 0);
  // An older event than the row's still says the refund had ended by its time: the earliest of them counts.
  if (!UNDONE_REFUND_STATUSES.includes(status ?? '')) return;
  await noteRefundUndone(p.tx, p.key(idOf(refund)!), p.ts);
  if (chargeId) await recountChargeRefunded(p.tx, p.key(chargeId));
}

/** Records the invoice ↔ payment link (publishes nothing: the invoice and the charge publish the payment). */
async function projectInvoicePayment(p: Projection): Promise<void> {
  await p.upsertObject('payments', (o) => ({ ...invoicePaymentValues(o), customer_id: null }), p.object.status === 'paid' ? 9 : 1);
}

/**
 * Every charge.dispute.* event carries the whole dispute: created, updated (evidence submitted), funds_withdrawn,
 * funds_reinstated and closed write the same row under the version rule. A same-second tie goes to the later stage
 * (DISPUTE_RANK; a closed dispute is final), then to any event but the created one (e.g. the funds_withdrawn Stripe
 * sends with it). Before, only created and closed were read: a dispute under review stayed needs_response, and one
 * whose created event never came was missing until it closed.
 */
async function projectDispute(p: Projection): Promise<void> {
  const d = p.object;
  const providerId = idOf(d)!;
  const stage = p.event.type === 'charge.dispute.closed' ? 9 : (DISPUTE_RANK[disputeValues(d).status ?? ''] ?? 0);
  const r = await p.upsertObject('payments', (o) => ({ ...disputeValues(o), customer_id: null }), eventRank(stage, p.event.type));
  if (r.applied && firstKnown(r.old)) {
    await p.publish('chargeback.received', `dispute:${providerId}`, {
      dispute: {
        id: r.row.id,
        providerId,
        amount: r.row.amount,
        currency: r.row.currency,
        reason: r.row.failure_message,
        chargeId: r.row.charge_provider_id,
      },
    });
  }
}

async function projectCheckout(p: Projection): Promise<void> {
  const c = p.object;
  const providerId = idOf(c)!;
  const customerId = await p.customer(c.customer);
  const values = (o: Obj) => ({ ...checkoutValues(o), customer_id: customerId });
  // A session paid by a delayed method (SEPA debit, bank transfer) completes unpaid; its async_payment_succeeded or
  // _failed always comes after the completion, so it wins a same-second tie.
  const afterCompletion = p.event.type.startsWith('checkout.session.async_payment_') ? 1 : 0;
  const r = await p.upsertObject('checkout_sessions', values, (CHECKOUT_RANK[checkoutValues(c).status ?? ''] ?? 0) * 2 + afterCompletion);
  if (!r.applied) return;
  const paid = (row: CrmRow | undefined) =>
    row?.status === 'complete' && (row.payment_status === 'paid' || row.payment_status === 'no_payment_required');
  if (paid(r.row) && !paid(firstKnown(r.old) ? undefined : r.old)) {
    await p.publish('order.completed', `checkout:${providerId}`, {
      order: {
        id: r.row.id,
        providerId,
        customerId,
        mode: r.row.mode,
        amountTotal: r.row.amount_total,
        currency: r.row.currency,
        subscriptionId: r.row.subscription_provider_id ?? null,
      },
    });
  }
}

// Products and plans (prices) take ids the account chooses, and Stripe lets a deleted one be created again under the
// same id: their tombstones give way to newer events (Version.resurrects). Before, a product or plan created again
// stayed deleted with the old object's fields (a plan's old lookup key mapping new subscribers to the wrong access).
async function projectProduct(p: Projection, deleted: boolean): Promise<void> {
  await p.upsertObject('products', productValues, eventRank(deleted ? 9 : 1, p.event.type), deleted, true);
}

async function projectPrice(p: Projection, deleted: boolean): Promise<void> {
  await p.upsertObject('prices', priceValues, eventRank(deleted ? 9 : 1, p.event.type), deleted, true);
}

/** The summary lists every active entitlement of a customer: keys present are granted, keys gone revoked. */
async function projectEntitlements(p: Projection): Promise<void> {
  const customerProviderId = idOf(p.object.customer);
  const customerId = await p.customer(p.object.customer);
  if (!customerProviderId || !customerId) return;
  // Each summary is the customer's whole list, so only the newest one counts. The per-key version rule alone is
  // not enough: a key the newer summary left out has no row of its own (or one revoked by an even newer summary),
  // so a late older summary listing it would insert it active and grant access nobody pays for. Nor are the access
  // rows' versions: a summary listing nothing, for a customer with nothing active, writes no row. A summary older
  // than the newest one projected for the customer (recorded whatever it wrote) changes nothing.
  if (!(await claimNewestSummary(p.tx, p.event.workspaceId, customerId, p.version(1)))) return;
  const keys = entitlementKeys(p.object);
  const active = new Set(keys.map((k) => k.lookupKey));
  for (const { lookupKey, entitlementId } of keys) {
    const r = await p.upsert(
      'access',
      `${customerProviderId}:${lookupKey}`,
      (old) => ({
        customer_id: customerId,
        resource: lookupKey,
        provider_access_id: entitlementId,
        status: 'active',
        granted_at: old?.status === 'active' ? old.granted_at : p.ts,
        revoked_at: null,
        expires_at: null,
      }),
      1,
    );
    if (r.applied && r.old?.status !== 'active') {
      await p.publish('access.granted', `access:${r.row.provider_id}:${p.providerEventId}`, {
        access: { id: r.row.id, customerId, resource: lookupKey, grantedAt: p.ts.toISOString() },
      });
    }
  }
  for (const row of await activeAccessForCustomer(p.tx, p.event.workspaceId, 'stripe', customerId)) {
    if (active.has(String(row.resource))) continue;
    const r = await p.upsert('access', String(row.provider_id), { status: 'revoked', revoked_at: p.ts }, 1);
    if (r.applied) {
      await p.publish('access.revoked', `access:${row.provider_id}:${p.providerEventId}`, {
        access: { id: row.id, customerId, resource: row.resource, revokedAt: p.ts.toISOString() },
      });
    }
  }
}

type Projector = (p: Projection) => Promise<void>;

export const STRIPE_PROJECTORS: Record<string, Projector> = {
  'customer.created': (p) => projectCustomer(p, false),
  'customer.updated': (p) => projectCustomer(p, false),
  'customer.deleted': (p) => projectCustomer(p, true),
  'customer.subscription.created': projectSubscription,
  'customer.subscription.updated': projectSubscription,
  'customer.subscription.deleted': projectSubscription,
  'customer.subscription.paused': projectSubscription,
  'customer.subscription.resumed': projectSubscription,
  'customer.subscription.trial_will_end': projectSubscription,
  // A pending update (payment_behavior=pending_if_incomplete) applied once its invoice is paid, or dropped when it
  // expires unpaid: the payload is the whole subscription as it now is, like customer.subscription.updated's. Ignored,
  // an applied update's new price and quantity waited for the next subscription event to reach the CRM.
  'customer.subscription.pending_update_applied': projectSubscription,
  'customer.subscription.pending_update_expired': projectSubscription,
  'invoice.created': projectInvoice,
  'invoice.finalized': projectInvoice,
  'invoice.updated': projectInvoice,
  'invoice.paid': projectInvoice,
  // The older name of a successful payment, still sent beside invoice.paid and the one many endpoints were set up
  // with: alone, it left the invoice open and published no payment.succeeded. With invoice.paid it is the same state
  // and the same facts (their dedupe keys), so it changes nothing more.
  'invoice.payment_succeeded': projectInvoice,
  'invoice.payment_failed': projectInvoice,
  'invoice.voided': projectInvoice,
  'invoice.marked_uncollectible': projectInvoice,
  'invoice.deleted': projectInvoice,
  'invoice_payment.paid': projectInvoicePayment,
  'payment_intent.created': projectPaymentIntent,
  'payment_intent.succeeded': projectPaymentIntent,
  'payment_intent.payment_failed': projectPaymentIntent,
  'payment_intent.canceled': projectPaymentIntent,
  'charge.succeeded': projectCharge,
  'charge.failed': projectCharge,
  'charge.refunded': projectCharge,
  'charge.updated': projectCharge,
  'charge.refund.updated': projectRefundUpdate,
  'charge.dispute.created': projectDispute,
  'charge.dispute.updated': projectDispute,
  'charge.dispute.funds_withdrawn': projectDispute,
  'charge.dispute.funds_reinstated': projectDispute,
  'charge.dispute.closed': projectDispute,
  'checkout.session.completed': projectCheckout,
  'checkout.session.expired': projectCheckout,
  // Delayed payment methods: the session completed unpaid, these say whether the money arrived. Without them a
  // session paid by SEPA debit or bank transfer stayed unpaid in the CRM and its order.completed was never published.
  'checkout.session.async_payment_succeeded': projectCheckout,
  'checkout.session.async_payment_failed': projectCheckout,
  'product.created': (p) => projectProduct(p, false),
  'product.updated': (p) => projectProduct(p, false),
  'product.deleted': (p) => projectProduct(p, true),
  'price.created': (p) => projectPrice(p, false),
  'price.updated': (p) => projectPrice(p, false),
  'price.deleted': (p) => projectPrice(p, true),
  'entitlements.active_entitlement_summary.updated': projectEntitlements,
};

/** The projectors whose object's `customer` is the event's customer (Projection.customer(object.customer)). */
const CUSTOMER_PROJECTORS = new Set<Projector>([
  projectSubscription,
  projectInvoice,
  projectPaymentIntent,
  projectCharge,
  projectCheckout,
  projectEntitlements,
]);

/** The Stripe customers a batch's events name as their object's customer, for BatchWrites.ensureCustomers. */
export function batchCustomerRefs(events: readonly StoredEvent[]): { workspaceId: string; provider: string; providerId: string }[] {
  const refs: { workspaceId: string; provider: string; providerId: string }[] = [];
  for (const event of events) {
    const projector = event.provider === 'stripe' ? STRIPE_PROJECTORS[event.type] : undefined;
    if (!projector || !CUSTOMER_PROJECTORS.has(projector)) continue;
    const object = ((event.payload as Obj | null)?.data as Obj | undefined)?.object as Obj | undefined;
    const providerId = idOf(object?.customer);
    if (providerId) refs.push({ workspaceId: event.workspaceId, provider: 'stripe', providerId });
  }
  return refs;
}

/** The projectors that stub the catalog their object shows (ensureCatalog). */
const CATALOG_PROJECTORS = new Set<Projector>([projectSubscription, projectInvoice]);

/**
 * The product and price stubs of every subscription and invoice event of a batch, written before the batch's events
 * run, in one statement per workspace instead of one per event; the ids of the events whose stubs are written
 * (pass them as `catalogWritten`: their projection skips that step). A stub is what the object says of a product or
 * price not known yet, and an insert that finds the row does nothing, so writing it a little earlier than the event
 * itself would changes no result. An event whose object cannot be read is left to its own projection (and failure).
 */
export async function ensureBatchCatalog(tx: Queryable, events: readonly StoredEvent[]): Promise<Set<string>> {
  const written = new Set<string>();
  const byWorkspace = new Map<string, { products: Map<string, Obj>; prices: Map<string, Obj> }>();
  for (const event of events) {
    if (event.provider !== 'stripe') continue;
    const projector = STRIPE_PROJECTORS[event.type];
    if (!projector || !CATALOG_PROJECTORS.has(projector)) continue;
    let catalog: ReturnType<typeof embeddedCatalog>;
    try {
      catalog = embeddedCatalog(((event.payload as Obj).data as Obj).object as Obj);
    } catch {
      continue;
    }
    let ws = byWorkspace.get(event.workspaceId);
    if (!ws) byWorkspace.set(event.workspaceId, (ws = { products: new Map(), prices: new Map() }));
    // The first event of the batch to show an object stubs it, as it would have run first.
    for (const { id, values } of catalog.products) if (!ws.products.has(id)) ws.products.set(id, values);
    for (const { id, values } of catalog.prices) if (!ws.prices.has(id)) ws.prices.set(id, values);
    written.add(event.id);
  }
  for (const [workspaceId, { products, prices }] of byWorkspace) {
    const stubs = (table: CrmTable, entries: Map<string, Obj>) =>
      [...entries].map(([providerId, values]) => ({ id: newId(ROW_PREFIX[table]), providerId, values }));
    await ensureStubs(tx, workspaceId, 'stripe', [
      { table: 'products', stubs: stubs('products', products) },
      { table: 'prices', stubs: stubs('prices', prices) },
    ]);
  }
  return written;
}

export async function projectStripeEvent(tx: Queryable, event: StoredEvent, opts: ProjectionOptions): Promise<boolean> {
  const projector = STRIPE_PROJECTORS[event.type];
  if (!projector) return false;
  await projector(new Projection(tx, event, opts));
  return true;
}
