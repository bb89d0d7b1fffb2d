// Piano events → CRM rows and business events, inside the transaction that marks the event processed.
//
// Piano events carry no id and access events no time, so order safety rests on what they do carry:
// - access rows (keyed by access_id, else uid:rid) rank revoked > modified > granted, and within a rank the later
//   expiry wins (unlimited counts as latest). Whatever the delivery order, granted → modified → revoked ends
//   revoked with the revoke's expiry. Before revoking, and before re-granting a revoked row, the projection
//   asks Piano's API (`/publisher/user/access/list`) when the workspace has an API token: a
//   `subscription_canceled` that only stops auto-renewal leaves the access active, a real re-purchase reopens it.
// - users and subscriptions use the event's own time when it has one (`timestamp`), else the period dates
//   (`next_bill_date`, `expires`) they carry; an untimed end of a subscription is final (see projectSubscription).
//   A subscription event with neither a time nor a date cannot be placed after a dated one: it writes its fields in
//   delivery order but its status only where nothing dated said otherwise (an undated renewal failure never
//   overrules a dated renewal, whichever comes first; see subscriptionOrder). A timed renewal failure without a
//   period meets untimed renewals on their axis, by its time read as a date: a renewal that set a later bill date
//   had answered it (active), one that set a bill date at or before it had not (past_due, with that period).
//   A renewal is published once per period it opens, whether or not it still moves the row.
// - a reader seen without a name or an email is a customer all the same (listed, shown by uid), claiming no version.
import type { Queryable } from '../../db/port.js';
import {
  ensureRow,
  fillMissingCustomer,
  findCrmRow,
  findCustomerById,
  isNewer,
  linkCustomerEvent,
  upsertGuarded,
  type CrmRow,
  type CrmTable,
  type Version,
} from '../../db/queries/crm.js';
import { markCheckDue } from '../../db/queries/customer-checks.js';
import { publishMessage } from '../../db/queries/messages.js';
import { newId } from '../../lib/ids.js';
import { pianoEventTime, str, unixSeconds } from '../../inbound/piano/parse.js';
import { RefetchNeeded, type ProjectionOptions, type StoredEvent } from '../types.js';
import { linkPersonByEmail } from '../link-person.js';

type Obj = Record<string, unknown>;
const EPOCH = new Date(0);
const NO_EXPIRY = 99_999_999_999; // sorts after any real expiry

const GRANT_EVENTS = ['new_purchase', 'payment_verified', 'free_access_granted', 'free_promo_redemption', 'new_registration_conversion'];
const MODIFY_EVENTS = ['access_modified', 'grace_period_extension', 'subscription_updated', 'subscription_auto_renewed'];
const REVOKE_EVENTS = ['access_revoked', 'subscription_ended', 'subscription_expired', 'access_ended'];

/** The access stage of an event: v2 says it in `type`; v1 (`type` access) in `event`. */
function accessStage(type: string, event: string | null): 1 | 2 | 3 | null {
  if (type === 'access_granted') return 1;
  if (type === 'access_modified') return 2;
  if (type === 'access_revoked') return 3;
  if (type === 'access' && event) {
    if (GRANT_EVENTS.includes(event)) return 1;
    if (MODIFY_EVENTS.includes(event)) return 2;
    if (REVOKE_EVENTS.includes(event)) return 3;
  }
  return null;
}

/** A tie-break string that orders by a date first (zero-padded seconds), then by the event's own key. */
const ordered = (seconds: number | null, eventKey: string) => `${String(seconds ?? NO_EXPIRY).padStart(12, '0')}:${eventKey}`;

export const accessConfirmKey = (uid: string) => `piano-access:${uid}`;

class PianoProjection {
  readonly p: Obj;
  readonly type: string;
  readonly event: string | null;
  readonly uid: string | null;
  readonly ts: Date | null;

  constructor(
    readonly tx: Queryable,
    readonly stored: StoredEvent & { providerEventId?: string },
    readonly opts: ProjectionOptions,
  ) {
    this.p = stored.payload as Obj;
    this.type = String(this.p.type ?? stored.type);
    this.event = str(this.p.event);
    this.uid = str(this.p.uid);
    this.ts = pianoEventTime(this.p);
  }

  key(providerId: string) {
    return { workspaceId: this.stored.workspaceId, provider: 'piano', providerId };
  }

  /** The event's own key in version comparisons: its stored id (Piano has none of its own). */
  get eventKey(): string {
    return this.stored.id;
  }

  upsert(table: CrmTable, providerId: string, values: Obj | ((old: CrmRow | undefined) => Obj), version: Version) {
    return upsertGuarded(
      this.tx,
      table,
      this.key(providerId),
      values,
      version,
      () => this.opts.rowId?.(table, providerId) ?? newId(table.slice(0, 3)),
      undefined,
      this.opts.batch?.oneTrip,
    );
  }

  /**
   * Asks for a parity check of the customer whose subscription or access this event changed (one statement). Only
   * live processing passes a due time: a rebuild restores rows, it does not change anyone's state.
   */
  async checkDue(customerId: string | null | undefined): Promise<void> {
    if (customerId && this.opts.checkDueAt) await markCheckDue(this.tx, [customerId], this.opts.checkDueAt);
  }

  async publish(type: string, fact: string, data: Obj): Promise<void> {
    if (!this.opts.publish) return;
    const message = {
      id: newId('msg'),
      workspaceId: this.stored.workspaceId,
      type,
      data,
      sourceProvider: 'piano',
      sourceEventId: this.stored.providerEventId ?? this.stored.id,
      dedupeKey: `${type}:${fact}`,
      firstAttemptDelaySeconds: this.opts.firstAttemptDelaySeconds ?? 0,
      recovered: this.opts.recovered ?? false,
    };
    if (this.opts.batch) this.opts.batch.addMessage(message);
    else await publishMessage(this.tx, message);
  }

  /** The Piano user as a customer row, created (and announced) on first sight; email kept up to date. */
  async customer(): Promise<CrmRow | null> {
    if (!this.uid) return null;
    const email = str(this.p.user_email) ?? str(this.p.email);
    const profile: Obj = {};
    if (email) profile.email = email;
    const first = str(this.p.first_name);
    const last = str(this.p.last_name);
    if (first || last) profile.name = [first, last].filter(Boolean).join(' ');
    if (this.type === 'user_disabled') profile.metadata = { disabled: true };
    let row: CrmRow;
    if (Object.keys(profile).length === 0 && !this.type.startsWith('user_')) {
      // Nothing to say about the person: make sure the row exists without claiming a version. It is a customer all
      // the same (listed, shown by uid), not a stub waiting for an event of its own: Piano may never send one.
      const id = await ensureRow(
        this.tx,
        'customers',
        this.key(this.uid),
        {},
        () => this.opts.rowId?.('customers', this.uid!) ?? newId('cus'),
        { stub: false },
      );
      row = (await findCustomerById(this.tx, id))!;
    } else {
      const r = await this.upsert(
        'customers',
        this.uid,
        (old) => ({ ...profile, metadata: { ...((old?.metadata as Obj) ?? {}), ...((profile.metadata as Obj) ?? {}) } }),
        {
          ts: this.ts ?? EPOCH,
          rank: 0,
          eventId: this.eventKey,
          deleted: false,
        },
      );
      row = r.row;
      const data = {
        customer: { id: row.id, provider: 'piano', providerId: this.uid, email: row.email ?? null, name: row.name ?? null, deleted: false },
      };
      // Announced when first said something of (a row that claims no version yet was only seen).
      const firstSaid = !r.old || r.old.stub || r.old.source_ts == null;
      if (r.applied && firstSaid) await this.publish('customer.created', `customer:piano:${this.uid}`, data);
      else if (r.applied && r.old && (r.old.email !== row.email || r.old.name !== row.name)) {
        await this.publish('customer.updated', `customer:piano:${this.uid}:${this.eventKey}`, data);
      }
    }
    await linkCustomerEvent(this.tx, row.id, this.stored.id);
    if (row.email && !row.person_id) await linkPersonByEmail(this.tx, this.stored.workspaceId, row);
    return row;
  }
}

interface ApiAccess {
  access_id?: string;
  granted?: boolean;
  revoked?: boolean;
  resource?: { rid?: string };
  expire_date?: number | null;
}

/** What Piano's API says of this access right now, when it was asked (see the header). */
function confirmed(
  pp: PianoProjection,
  accessId: string | null,
  rid: string | null,
): { active: boolean; expires: Date | null } | undefined {
  const snapshot = pp.opts.snapshots?.get(accessConfirmKey(pp.uid!));
  if (!snapshot) return undefined;
  const list = Array.isArray(snapshot.accesses) ? (snapshot.accesses as ApiAccess[]) : [];
  // The access itself when the event names it: another live access to the same resource (bought again) says nothing
  // about this one, which has its own row. Only an event without an access id goes by the resource.
  const match = list.filter((a) => (accessId ? a.access_id === accessId : rid !== null && a.resource?.rid === rid));
  // Judged as of when Piano answered (a rebuild long after must decide as live processing did); snapshots saved
  // before they carried that time are judged as of now.
  const now = typeof snapshot.fetchedAt === 'number' ? snapshot.fetchedAt : (pp.opts.now ?? Date.now)() / 1000;
  const live = match.find((a) => a.granted !== false && a.revoked !== true && (a.expire_date == null || a.expire_date > now));
  return live ? { active: true, expires: unixSeconds(live.expire_date) } : { active: false, expires: null };
}

async function projectAccess(pp: PianoProjection, stage: 1 | 2 | 3): Promise<void> {
  const customer = await pp.customer();
  const rid = str(pp.p.rid) ?? 'unknown';
  const accessId = str(pp.p.access_id);
  const providerId = accessId ?? `${pp.uid ?? 'anonymous'}:${rid}`;
  // A date no timestamp can hold (`expires: 1e300`) reads as none, as for subscriptions; the order within a stage is
  // by the date read (a value in milliseconds is that date), not by the digits sent.
  const expires = dateOf(typeof pp.p.expires === 'number' || typeof pp.p.expires === 'string' ? Number(pp.p.expires) || null : null);
  const expiresSeconds = expires ? Math.floor(expires.getTime() / 1000) : null;
  const existing = await findCrmRow(pp.tx, 'access', pp.stored.workspaceId, 'piano', providerId);

  // Confirm with Piano before revoking, and before reopening a revoked row (see the header). A scan's repair is
  // confirmed too, and Piano's answer then settles the row whatever the rank order says: a repair that shortens an
  // access (Piano's expiry earlier than the CRM's, within the same stage) would otherwise never apply.
  const scanRepair = pp.event === 'sluice_scan';
  const needsConfirm = pp.uid !== null && (stage === 3 || existing?.status === 'revoked' || scanRepair);
  const confirmKey = pp.uid ? accessConfirmKey(pp.uid) : '';
  if (needsConfirm && !pp.opts.snapshots?.has(confirmKey)) {
    if (pp.opts.refetchable?.(confirmKey)) throw new RefetchNeeded(confirmKey);
    pp.opts.notFetched?.(confirmKey);
  }
  const api = needsConfirm ? confirmed(pp, accessId, rid) : undefined;

  const at = pp.ts ?? pp.stored.receivedAt ?? new Date(0);
  let status: 'active' | 'revoked' = stage === 3 ? 'revoked' : 'active';
  let expiresAt = expires;
  let force = false;
  if (api) {
    status = api.active ? 'active' : 'revoked';
    if (api.active) expiresAt = api.expires;
    // The API's word settles it whatever the rank order says.
    force = scanRepair || (stage === 3 ? api.active : api.active && existing?.status === 'revoked');
  }
  const r = await pp.upsert(
    'access',
    providerId,
    (old) => ({
      // An event without a uid says nothing about whose access it is: the row keeps its customer.
      customer_id: customer?.id ?? (old?.customer_id as string | null | undefined) ?? null,
      resource: rid,
      provider_access_id: accessId,
      term_id: str(pp.p.term_id) ?? (old?.term_id as string | null) ?? null,
      status,
      granted_at: status === 'active' ? ((old?.status === 'active' ? old.granted_at : null) ?? at) : (old?.granted_at ?? null),
      revoked_at: status === 'revoked' ? at : null,
      // A revoke without an expiry keeps the one the access had.
      expires_at: expiresAt ?? (status === 'revoked' ? ((old?.expires_at as Date | null) ?? null) : null),
    }),
    { ts: EPOCH, rank: stage, eventId: ordered(expiresSeconds, pp.eventKey), deleted: false, force },
  );
  // A purchase is a fact of its own, whatever the row's order says: one order.completed per access, published by the
  // new_purchase grant even when its modify or revoke was delivered (and projected) before it.
  const publishOrder = async () => {
    if (stage !== 1 || pp.event !== 'new_purchase') return;
    await pp.publish('order.completed', `order:piano:${providerId}`, {
      order: {
        id: r.row.id,
        provider: 'piano',
        customerId: customer?.id ?? (r.row.customer_id as string | null | undefined) ?? null,
        resource: rid,
        termId: str(pp.p.term_id) ?? (r.row.term_id as string | null | undefined) ?? null,
        paymentId: str(pp.p.payment_id),
      },
    });
  };
  if (!r.applied) {
    // Older than the row, it still says whose access it is: a row an event without a uid wrote first gets its customer.
    if (customer && !r.row.customer_id && (await fillMissingCustomer(pp.tx, 'access', r.row.id, customer.id)))
      await pp.checkDue(customer.id);
    await publishOrder();
    return;
  }
  await pp.checkDue(customer?.id);
  const old = r.old && !r.old.stub ? r.old : undefined;
  const now = r.row;
  const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : null);
  const data = {
    access: {
      id: now.id,
      customerId: customer?.id ?? null,
      provider: 'piano',
      resource: rid,
      providerAccessId: accessId,
      termId: now.term_id ?? null,
      expiresAt: iso(now.expires_at),
      grantedAt: iso(now.granted_at),
      revokedAt: iso(now.revoked_at),
    },
  };
  if (now.status === 'active' && old?.status !== 'active') {
    await pp.publish('access.granted', `access:piano:${providerId}:${pp.eventKey}`, data);
  } else if (now.status === 'active' && old && (iso(old.expires_at) !== iso(now.expires_at) || old.resource !== now.resource)) {
    await pp.publish('access.modified', `access:piano:${providerId}:${iso(now.expires_at) ?? 'unlimited'}:${now.resource}`, data);
  } else if (now.status === 'revoked' && old?.status === 'active') {
    await pp.publish('access.revoked', `access:piano:${providerId}:${pp.eventKey}`, data);
  }
  await publishOrder();
}

// Subscription events: v1 (`type` subscription, what happened in `event`) and v2 (`subscription_renewal`,
// `subscription_auto_renew_changed`, term changes). What happened decides the status; a `status` in the payload
// (Piano's own words) is read when the event says nothing stronger.
const RENEW_EVENTS = ['subscription_auto_renewed', 'subscription_manually_renewed'];
const RENEW_FAILED_EVENTS = ['subscription_auto_renewed_failure', 'subscription_auto_renewed_auth_failure'];
const END_EVENTS = ['subscription_ended', 'subscription_expired'];
const PIANO_ENDED_STATUSES = ['expired', 'cancelled', 'canceled', 'completed', 'terminated', 'ended'];

type SubscriptionStatus = 'active' | 'past_due' | 'canceled';

/** The status an event says the subscription is in, or null when it says nothing about it. */
function subscriptionStatus(pp: PianoProjection): SubscriptionStatus | null {
  const event = pp.event ?? '';
  if (END_EVENTS.includes(event)) return 'canceled';
  if (RENEW_FAILED_EVENTS.includes(event)) return 'past_due';
  if (RENEW_EVENTS.includes(event)) return 'active';
  const pianoStatus = str(pp.p.status)?.toLowerCase() ?? null;
  if (pianoStatus === 'active') return 'active';
  if (pianoStatus && PIANO_ENDED_STATUSES.includes(pianoStatus)) return 'canceled';
  if (pp.type === 'subscription_renewal' || pp.type.startsWith('term_change')) return 'active';
  return null;
}

/** A date from unix seconds, or null: a date no timestamp can hold (`expires: 1e300`) reads as absent rather than
 *  failing the whole event, whose other fields are still good. */
function dateOf(v: unknown): Date | null {
  const d = unixSeconds(v);
  return d && !Number.isNaN(d.getTime()) ? d : null;
}

/**
 * The event's place among the subscription's events of the same time (`Version.eventId`): the period it opens first
 * (`ordered`), then, for a renewal failure, where a failure stands against a renewal of the same date. A failure
 * dated by the bill date a renewal set is the attempt to renew at that date, so after that renewal (`~` sorts after
 * every event key). A timed failure without a period is placed on the same axis by its time: a renewal that set a
 * bill date after it had answered it (before), one that set a bill date at or before it had not (after, as the
 * attempt to renew at that date). A failure with neither a date nor a time cannot be placed after any renewal, so
 * it comes before every other status (`!` sorts before every event key): it says `past_due` only until a renewal is
 * known, in whatever order they arrive. An undated event that says no status (an auto-renewal switch) claims no
 * place (the empty key): it never outranks one that does.
 */
function subscriptionOrder(pp: PianoProjection, status: SubscriptionStatus | null, periodEnd: Date | null): string {
  if (status === 'past_due') {
    const at = periodEnd ?? pp.ts;
    return ordered(at ? at.getTime() / 1000 : 0, `${at ? '~' : '!'}${pp.eventKey}`);
  }
  const seconds = periodEnd ? periodEnd.getTime() / 1000 : 0;
  if (status === null && !periodEnd && !pp.ts) return ordered(0, '');
  return ordered(seconds, pp.eventKey);
}

const boolOf = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : null);

/**
 * One subscription row per Piano subscription id (a v1 payload without one: per user and resource).
 *
 * Order safety (see the header): with an event time, time decides (a later renewal reopens an ended
 * subscription). Without one, an end is final for that subscription id (it ranks above everything, and is written
 * even over a row a timed event wrote: Piano starts a new subscription for a new purchase), renewals and failures
 * order by the period they open (a failure after a renewal of the same date), and an event with neither a time nor
 * a date applies its fields in delivery order without moving the row's place in the order: its status counts only
 * over a row that nothing placed later wrote (an undated failure comes before every renewal, see subscriptionOrder).
 * Between the two, a timed failure without a period meets untimed events by its time read as a date: a renewal that
 * set a later bill date had answered it, one that set a bill date at or before it had not (the failure is the
 * attempt to renew then) but still set the period, which the failure does not tell.
 */
async function projectSubscription(pp: PianoProjection): Promise<void> {
  const customer = await pp.customer();
  const rid = str(pp.p.rid) ?? str(pp.p.new_subscription_rid);
  const subscriptionId =
    str(pp.p.new_subscription_id) ?? str(pp.p.subscription_id) ?? str(pp.p.sub_id) ?? (pp.uid && rid ? `${pp.uid}:${rid}` : null);
  if (!subscriptionId) return;
  const status = subscriptionStatus(pp);
  const ending = status === 'canceled';
  const expires = dateOf(pp.p.expires);
  const nextBill = dateOf(pp.p.next_bill_date ?? pp.p.new_subscription_next_bill_date);
  // The end of the period: the next bill date, else the expiry (a renewal's new one; an end's last day of access).
  const periodEnd = nextBill ?? expires;
  const endedAt = ending ? (expires ?? pp.ts ?? pp.stored.receivedAt ?? null) : null;
  const autoRenew = boolOf(pp.p.auto_renew);
  const stopsRenewing = pp.event === 'subscription_canceled' && !ending;
  const term = str(pp.p.new_term_id) ?? str(pp.p.term_id);
  const termName = str(pp.p.new_term_name) ?? str(pp.p.term_name);
  // A timed renewal failure without a period: placed by its time on the period axis (see subscriptionOrder). It reads
  // the row, as an untimed event does, to know whether that row was placed on that axis (see joinsUntimed).
  const failsAt = pp.ts && status === 'past_due' && !periodEnd ? pp.ts : null;
  // An untimed event that opens a later period than a live row a timed event wrote (a scan's repair carries the time
  // Piano answered) is newer than that row: it takes the row's time, so the period order decides between them.
  // With no time of its own it would lose to any timed write, and every later untimed renewal with it.
  const existing = pp.ts && !failsAt ? undefined : await findCrmRow(pp.tx, 'subscriptions', pp.stored.workspaceId, 'piano', subscriptionId);
  const existingEnd = existing?.current_period_end instanceof Date ? existing.current_period_end.getTime() : null;
  const movesOn =
    !pp.ts &&
    existing !== undefined &&
    !existing.stub &&
    !ending &&
    existing.status !== 'canceled' &&
    existing.source_ts instanceof Date &&
    existing.source_ts.getTime() > EPOCH.getTime() &&
    periodEnd !== null &&
    (existingEnd === null || periodEnd.getTime() > existingEnd);
  // The converse: a timed failure without a period over a row untimed events placed (by the periods they open) takes
  // their time, so its own place on that axis decides: a renewal that set a bill date after the failure had answered
  // it. With its own time it would overrule that renewal delivered first, though it cannot when delivered first
  // itself (the renewal then moves on, above). An untimed end stays final (its rank is above the failure's).
  const joinsUntimed =
    failsAt !== null &&
    existing !== undefined &&
    !existing.stub &&
    existing.source_ts instanceof Date &&
    existing.source_ts.getTime() === EPOCH.getTime();
  // Neither a time nor a period: the event cannot be placed after any dated one (see subscriptionOrder).
  const undated = !pp.ts && !ending && !periodEnd;
  const version: Version = {
    ts: joinsUntimed ? EPOCH : (pp.ts ?? (movesOn ? (existing.source_ts as Date) : EPOCH)),
    rank: ending ? 9 : 0,
    eventId: subscriptionOrder(pp, status, periodEnd),
    deleted: false,
    // An untimed end is final; an undated event applies its fields in delivery order, without moving the row's place
    // in the order (its status counts only where its own place is the newer, see below).
    force: !pp.ts && (ending || !periodEnd),
    keepVersion: undated,
  };
  const r = await pp.upsert(
    'subscriptions',
    subscriptionId,
    (old) => {
      const values: Obj = { customer_id: customer?.id ?? (old?.customer_id as string | null) ?? null };
      if (term) values.price_provider_id = term;
      if (termName) values.plan_name = termName;
      // The resource (rid) is what parity maps to an access key: kept with the term it was bought under.
      if (rid) values.product_provider_id = rid;
      const product = rid ?? (old?.product_provider_id as string | null) ?? null;
      const termId = term ?? (old?.price_provider_id as string | null) ?? null;
      // `product` as on Stripe's items, `rid` in Piano's own word: the parity check reads either.
      if (rid || term) values.items = [{ product, rid: product, term: termId }];
      if (periodEnd) values.current_period_end = periodEnd;
      if (autoRenew !== null) values.cancel_at_period_end = !autoRenew;
      if (stopsRenewing) values.cancel_at_period_end = true;
      // Without an event time an ended row stays ended (see above): only a timed event may reopen it.
      const reopensUntimed = !pp.ts && old?.status === 'canceled' && !ending;
      // An undated event is written whatever its place (force): its status only where that place is the newer, so an
      // undated failure does not overrule a dated renewal delivered before it, as it cannot when delivered first.
      const placedAfter = !undated || !old || old.stub || isNewer(old, version);
      if (status && !reopensUntimed && placedAfter) values.status = status;
      else if (!old) values.status = 'active';
      if (values.status === 'canceled') {
        values.ended_at = (old?.status === 'canceled' ? (old.ended_at as Date | null) : null) ?? endedAt;
        values.canceled_at = (old?.status === 'canceled' ? (old.canceled_at as Date | null) : null) ?? endedAt;
      } else if (values.status) {
        values.ended_at = null;
      }
      return values;
    },
    version,
  );
  const old = r.applied && r.old && !r.old.stub ? r.old : undefined;
  let now = r.row;
  // A dated untimed event placed before the row's writer still tells the period when that writer told none (or an
  // earlier one): the only live writer that outranks it so is a failure without a period placed at or after this bill
  // date, and delivered the other way round that failure would have left this period in place. The row keeps its
  // place and its status. An ended row is left as it is: an end writes its own last day over a period sent before it.
  const nowEnd = now.current_period_end instanceof Date ? now.current_period_end.getTime() : null;
  if (!r.applied && !pp.ts && periodEnd && !ending && !now.stub && !now.deleted && now.status !== 'canceled') {
    if (nowEnd === null || nowEnd < periodEnd.getTime()) {
      const filled = await pp.upsert(
        'subscriptions',
        subscriptionId,
        { current_period_end: periodEnd },
        { ...version, force: true, keepVersion: true },
      );
      now = filled.row;
      await pp.checkDue(now.customer_id as string | null);
    }
  }
  const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : null);
  const data = {
    subscription: {
      id: now.id,
      provider: 'piano',
      providerId: subscriptionId,
      customerId: now.customer_id ?? null,
      status: now.status,
      planName: now.plan_name ?? null,
      termId: now.price_provider_id ?? null,
      resource: now.product_provider_id ?? null,
      currentPeriodEnd: iso(now.current_period_end),
      cancelAtPeriodEnd: now.cancel_at_period_end,
      endedAt: iso(now.ended_at),
    },
  };
  const fact = `subscription:piano:${subscriptionId}`;

  const terminal = (row: CrmRow | undefined) => row?.status === 'canceled';
  if (r.applied) {
    await pp.checkDue(now.customer_id as string | null);
    if (!old) await pp.publish('subscription.created', fact, data);
    const cancellationScheduled = now.cancel_at_period_end === true && old?.cancel_at_period_end !== true && !terminal(now);
    const endedUnscheduled = terminal(now) && !terminal(old) && old?.cancel_at_period_end !== true;
    if (cancellationScheduled || endedUnscheduled) {
      const endsAt = cancellationScheduled ? data.subscription.currentPeriodEnd : data.subscription.endedAt;
      await pp.publish('subscription.canceled', `${fact}:${pp.eventKey}`, { ...data, endsAt });
    }
    if (old && !terminal(now)) {
      const changed =
        (old.price_provider_id && now.price_provider_id !== old.price_provider_id) ||
        (old.cancel_at_period_end === true && now.cancel_at_period_end === false);
      if (changed) await pp.publish('subscription.updated', `${fact}:${pp.eventKey}`, data);
    }
    if (now.status === 'active' && old && old.status !== 'active') {
      await pp.publish('subscription.activated', `${fact}:${pp.eventKey}`, data);
    }
  }
  // A renewal is a fact of its own, whatever the row's order says: one message per renewal, keyed by the period
  // it opens, so a renewal delivered twice, or after a later one or after the end, is still published once.
  const renewal = status === 'active' && (RENEW_EVENTS.includes(pp.event ?? '') || pp.type === 'subscription_renewal');
  if (renewal) {
    const period = periodEnd ? periodEnd.toISOString() : `event:${pp.stored.providerEventId ?? pp.stored.id}`;
    await pp.publish('subscription.renewed', `${fact}:${period}`, { ...data, renewedUntil: iso(periodEnd) });
  }
  if (r.applied && terminal(now) && !terminal(old)) await pp.publish('subscription.ended', fact, data);
}

/**
 * A refund's amount in cents, or null when it is not known: only a number, or a string that is one (`"12.34"`),
 * is an amount. `null`, an absent field, `""` or `true` say nothing of it (Number() would read them as 0 or 1, a
 * refund of 0 that never was); an amount no bigint column can hold (`1e20`) is left out rather than failing the refund.
 */
function refundCents(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) return null;
  const cents = Math.round(n * 100);
  return Number.isSafeInteger(cents) ? cents : null;
}

async function projectRefund(pp: PianoProjection): Promise<void> {
  const customer = await pp.customer();
  const paymentId = str(pp.p.payment_id);
  if (!paymentId) return;
  const r = await pp.upsert(
    'payments',
    `refund:${paymentId}`,
    // An event that does not tell the amount (the same refund sent again in another spelling) keeps the one known.
    (old) => ({
      kind: 'refund',
      customer_id: customer?.id ?? null,
      charge_provider_id: paymentId,
      status: 'succeeded',
      amount: refundCents(pp.p.amount) ?? old?.amount ?? null,
      currency: str(pp.p.currency) ?? old?.currency ?? null,
    }),
    { ts: pp.ts ?? EPOCH, rank: 0, eventId: pp.eventKey, deleted: false },
  );
  if (r.applied && (!r.old || r.old.stub)) {
    await pp.publish('order.refunded', `refund:piano:${paymentId}`, {
      payment: {
        id: r.row.id,
        provider: 'piano',
        providerId: paymentId,
        customerId: customer?.id ?? null,
        amountRefunded: r.row.amount,
        currency: r.row.currency,
      },
    });
  }
}

type Projector = (pp: PianoProjection) => Promise<void>;

const USER_TYPES = ['user_created', 'user_updated', 'user_disabled', 'user_email_confirmed', 'user_address_updated', 'user_payment_method'];
const SUBSCRIPTION_TYPES = [
  // Version 1: `type` subscription carries what happened in `event`.
  'subscription',
  'subscription_renewal',
  'subscription_auto_renew_changed',
  'term_change',
  'term_changed',
  'term_change_finished',
];

export const PIANO_PROJECTORS: Record<string, Projector> = {
  access_granted: (pp) => projectAccess(pp, 1),
  access_modified: (pp) => projectAccess(pp, 2),
  access_revoked: (pp) => projectAccess(pp, 3),
  // Version 1: `type` access carries the stage in `event`.
  access: async (pp) => {
    const stage = accessStage(pp.type, pp.event);
    if (stage) await projectAccess(pp, stage);
    else await pp.customer();
  },
  payment_refund: projectRefund,
  ...Object.fromEntries(USER_TYPES.map((t) => [t, async (pp: PianoProjection) => void (await pp.customer())])),
  ...Object.fromEntries(SUBSCRIPTION_TYPES.map((t) => [t, projectSubscription])),
};

export async function projectPianoEvent(tx: Queryable, event: StoredEvent, opts: ProjectionOptions): Promise<boolean> {
  // Own keys only: a type Piano's payload names `constructor` or `__proto__` is not one of ours.
  const projector = Object.hasOwn(PIANO_PROJECTORS, event.type) ? PIANO_PROJECTORS[event.type] : undefined;
  if (!projector) return false;
  await projector(new PianoProjection(tx, event, opts));
  return true;
}
