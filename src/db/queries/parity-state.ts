// What a parity check reads and writes about customers. The state loader is batched: one query per table for a
// whole chunk of customers (a check of 10,000 customers is some 20 chunks × 6 queries, not 60,000 queries).
import type {
  AccessState,
  CustomerState,
  EventState,
  InvoiceState,
  RefundedChargeState,
  SubscriptionItemState,
  SubscriptionState,
} from '../../parity/check.js';
import { PLANNED_PER_CALL, type Queryable } from '../port.js';
import type { IncidentRow } from './incidents.js';
import { payloadOf } from './event-payload.js';

type Obj = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function subscriptionItems(provider: string, items: unknown, product: string | null, metadata: Obj | null): SubscriptionItemState[] {
  const list = Array.isArray(items) ? (items as Obj[]) : [];
  if (provider === 'piano') {
    // Piano subscriptions stand for one resource: on the items when the projection wrote them, else the row's
    // product column or metadata.
    const rids = list.map((i) => str(i?.rid) ?? str(i?.resource)).filter((r): r is string => r !== null);
    const rid = rids[0] ?? product ?? str(metadata?.rid);
    return rids.length > 1 ? rids.map((r) => ({ rid: r })) : rid ? [{ rid }] : [];
  }
  return list.map((i) => ({ price: str(i?.price), product: str(i?.product) }));
}

interface SubscriptionRow {
  id: string;
  customer_id: string;
  provider: string;
  provider_id: string;
  status: string | null;
  items: unknown;
  product_provider_id: string | null;
  metadata: Obj | null;
  current_period_start: Date | null;
  unpaid_since: Date | null;
  current_period_end: Date | null;
  trial_end: Date | null;
  cancel_at: Date | null;
  cancel_at_period_end: boolean;
  ended_at: Date | null;
  pause_collection: unknown;
  deleted: boolean;
}

/**
 * The CRM state of each customer of the list (missing ids are absent from the map). `lookupKeys` loads the
 * prices' lookup keys (only when the access map matches on them); `stuckBefore` is not used to filter: every
 * failed or unprocessed event is returned, the check decides which are stuck (and when a younger one will be).
 */
export async function loadCustomerStates(
  db: Queryable,
  workspaceId: string,
  customerIds: readonly string[],
  /** stuckBefore: an unprocessed event received before it is stuck; younger ones are not read (see below). */
  opts: { lookupKeys: boolean; stuckBefore: Date },
): Promise<Map<string, CustomerState>> {
  const out = new Map<string, CustomerState>();
  if (customerIds.length === 0) return out;
  const ids = [...customerIds];
  const customers = await db.query<{ id: string; provider: string; provider_id: string }>(
    'SELECT id, provider, provider_id FROM customers WHERE workspace_id = $1 AND id = ANY($2::text[])',
    [workspaceId, ids],
  );
  for (const c of customers.rows) {
    out.set(c.id, {
      customer: { id: c.id, provider: c.provider, providerId: c.provider_id },
      subscriptions: [],
      access: [],
      invoices: [],
      refundedCharges: [],
      events: [],
    });
  }
  if (out.size === 0) return out;
  const found = [...out.keys()];
  const [subs, access, invoices, charges, events] = await Promise.all([
    db.query<SubscriptionRow>(
      // unpaid_since: the earliest open invoice of a past_due subscription (check.ts counts the grace from it); an
      // invoice's period_end is, for a renewal, when the period it bills began.
      `SELECT s.id, s.customer_id, s.provider, s.provider_id, s.status, s.items, s.product_provider_id, s.metadata,
         s.current_period_start, s.current_period_end, s.trial_end, s.cancel_at, s.cancel_at_period_end, s.ended_at,
         s.pause_collection, s.deleted,
         CASE WHEN s.status = 'past_due' THEN (
           SELECT min(i.period_end) FROM invoices i
           WHERE i.customer_id = s.customer_id AND i.subscription_provider_id = s.provider_id AND i.provider = s.provider
             AND i.status = 'open' AND NOT i.deleted) END AS unpaid_since
       FROM subscriptions s WHERE s.customer_id = ANY($1::text[])`,
      [found],
    ),
    db.query<{
      id: string;
      customer_id: string;
      provider: string;
      resource: string;
      status: string;
      expires_at: Date | null;
      granted_at: Date | null;
    }>(
      `SELECT id, customer_id, provider, resource, status, expires_at, granted_at
       FROM access WHERE customer_id = ANY($1::text[]) AND status = 'active' AND NOT deleted`,
      [found],
    ),
    // What pays for each subscription now: its newest paid invoice.
    db.query<{ customer_id: string; provider_id: string; subscription_provider_id: string; amount_paid: string | null }>(
      `SELECT DISTINCT ON (customer_id, subscription_provider_id) customer_id, provider_id, subscription_provider_id, amount_paid
       FROM invoices WHERE customer_id = ANY($1::text[]) AND status = 'paid' AND subscription_provider_id IS NOT NULL AND NOT deleted
       ORDER BY customer_id, subscription_provider_id, paid_at DESC NULLS LAST, created_at DESC, id DESC`,
      [found],
    ),
    // Refunded charges, with the invoice they paid: on the charge (older API versions), else through the payment
    // intent or the InvoicePayment that links them (newer ones).
    db.query<{
      id: string;
      customer_id: string;
      provider_id: string;
      amount: string | null;
      refunded: string;
      invoice_provider_id: string | null;
    }>(
      `SELECT c.id, c.customer_id, c.provider_id, c.amount,
         GREATEST(COALESCE(c.amount_refunded, 0),
           (SELECT COALESCE(sum(r.amount), 0) FROM payments r WHERE r.workspace_id = c.workspace_id AND r.provider = c.provider
              AND r.kind = 'refund' AND r.charge_provider_id = c.provider_id AND r.status = 'succeeded')) AS refunded,
         COALESCE(c.invoice_provider_id,
           (SELECT pi.invoice_provider_id FROM payments pi WHERE pi.workspace_id = c.workspace_id AND pi.provider = c.provider
              AND pi.provider_id = c.payment_intent_provider_id AND pi.invoice_provider_id IS NOT NULL),
           (SELECT ip.invoice_provider_id FROM payments ip WHERE ip.workspace_id = c.workspace_id AND ip.kind = 'invoice_payment'
              AND ip.charge_provider_id = c.provider_id LIMIT 1),
           (SELECT ip.invoice_provider_id FROM payments ip WHERE ip.workspace_id = c.workspace_id AND ip.kind = 'invoice_payment'
              AND ip.payment_intent_provider_id = c.payment_intent_provider_id LIMIT 1)) AS invoice_provider_id
       FROM payments c
       WHERE c.customer_id = ANY($1::text[]) AND c.kind = 'charge' AND NOT c.deleted
         AND (COALESCE(c.amount_refunded, 0) > 0 OR EXISTS (
           SELECT 1 FROM payments r WHERE r.workspace_id = c.workspace_id AND r.provider = c.provider AND r.kind = 'refund'
             AND r.charge_provider_id = c.provider_id AND r.status = 'succeeded'))`,
      [found],
    ),
    // Failed events and events due for processing since before the stuck threshold (a retry scheduled later is
    // not stuck yet), matched to customers by the customer their payload names
    // (a failed event's projection rolled back, so it linked nobody). Unprocessed events younger than the stuck
    // threshold are not read: matching them means reading every payload of a backlog at every check (it tripled
    // the database's CPU per processed event), and a backlog is the processing_backlog incident's to report.
    db.query<{ id: string; customer_id: string; type: string; status: string; received_at: Date }>(
      `SELECT e.id, c.id AS customer_id, e.type, e.status, e.received_at
       FROM (
         -- each branch reads its own index: failed events of the workspace by (workspace, provider, status), due
         -- unprocessed ones by the processing queue's (next_attempt_at) index, never the whole backlog
         SELECT id, workspace_id, provider, type, status, received_at, ${payloadOf('events')} AS payload FROM events
           WHERE workspace_id = $1 AND provider = ANY('{stripe,piano}'::text[]) AND status = 'failed'
         UNION ALL
         SELECT id, workspace_id, provider, type, status, received_at, ${payloadOf('events')} AS payload FROM events
           WHERE status = 'received' AND next_attempt_at <= $3 AND workspace_id = $1
       ) e
       JOIN customers c ON c.workspace_id = e.workspace_id AND c.provider = e.provider AND c.provider_id = COALESCE(
         e.payload->'data'->'object'->>'customer',
         CASE WHEN e.payload->'data'->'object'->>'object' = 'customer' THEN e.payload->'data'->'object'->>'id' END,
         e.payload->>'uid')
       WHERE c.id = ANY($2::text[])
       ORDER BY e.received_at LIMIT 10000`,
      [workspaceId, found, opts.stuckBefore],
    ),
  ]);

  let lookup = new Map<string, string>();
  if (opts.lookupKeys) {
    const priceIds = new Set<string>();
    for (const s of subs.rows) for (const i of subscriptionItems(s.provider, s.items, null, null)) if (i.price) priceIds.add(i.price);
    if (priceIds.size > 0) {
      const { rows } = await db.query<{ provider_id: string; lookup_key: string }>(
        `SELECT provider_id, lookup_key FROM prices
         WHERE workspace_id = $1 AND provider = 'stripe' AND provider_id = ANY($2::text[]) AND lookup_key IS NOT NULL`,
        [workspaceId, [...priceIds]],
      );
      lookup = new Map(rows.map((r) => [r.provider_id, r.lookup_key]));
    }
  }

  for (const s of subs.rows) {
    const items = subscriptionItems(s.provider, s.items, s.product_provider_id, s.metadata);
    for (const i of items) if (i.price && lookup.has(i.price)) i.lookupKey = lookup.get(i.price)!;
    const sub: SubscriptionState = {
      id: s.id,
      provider: s.provider,
      providerId: s.provider_id,
      status: s.status,
      items,
      currentPeriodStart: s.current_period_start,
      unpaidSince: s.unpaid_since,
      currentPeriodEnd: s.current_period_end,
      trialEnd: s.trial_end,
      cancelAt: s.cancel_at,
      cancelAtPeriodEnd: s.cancel_at_period_end,
      endedAt: s.ended_at,
      pauseCollection: s.pause_collection ?? null,
      deleted: s.deleted,
    };
    out.get(s.customer_id)?.subscriptions.push(sub);
  }
  for (const a of access.rows) {
    const row: AccessState = {
      id: a.id,
      provider: a.provider,
      resource: a.resource,
      status: a.status,
      expiresAt: a.expires_at,
      grantedAt: a.granted_at,
    };
    out.get(a.customer_id)?.access.push(row);
  }
  for (const i of invoices.rows) {
    const inv: InvoiceState = {
      providerId: i.provider_id,
      subscriptionProviderId: i.subscription_provider_id,
      amountPaid: i.amount_paid === null ? null : Number(i.amount_paid),
    };
    out.get(i.customer_id)?.invoices.push(inv);
  }
  for (const c of charges.rows) {
    const charge: RefundedChargeState = {
      id: c.id,
      providerId: c.provider_id,
      invoiceProviderId: c.invoice_provider_id,
      amount: c.amount === null ? null : Number(c.amount),
      amountRefunded: Number(c.refunded),
    };
    out.get(c.customer_id)?.refundedCharges.push(charge);
  }
  for (const e of events.rows) {
    const ev: EventState = { id: e.id, type: e.type, status: e.status, receivedAt: e.received_at };
    out.get(e.customer_id)?.events.push(ev);
  }
  return out;
}

/** A customer by Sluice id or provider id (a Sluice id wins, then a real row over a stub). */
export async function findCustomerRef(db: Queryable, workspaceId: string, ref: string): Promise<{ id: string } | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM customers WHERE workspace_id = $1 AND (id = $2 OR provider_id = $2)
     ORDER BY (id = $2) DESC, stub, id LIMIT 1`,
    [workspaceId, ref],
  );
  return rows[0];
}

/**
 * The next page of customer ids of a workspace, after `after`, in id order: all of them, or the `active` ones —
 * with active access, a live subscription, or a live incident of a parity finding (so a customer whose access
 * and subscriptions all ended still gets the check that resolves its incidents).
 */
export async function customerIdsPage(
  db: Queryable,
  workspaceId: string,
  which: 'all' | 'active',
  after: string,
  limit: number,
  findingKinds: readonly string[],
): Promise<string[]> {
  const active = `AND (
      EXISTS (SELECT 1 FROM access a WHERE a.customer_id = c.id AND a.status = 'active')
      OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = c.id AND NOT s.deleted
                   AND (s.status IS NULL OR s.status NOT IN ('canceled', 'incomplete_expired')))
      OR EXISTS (SELECT 1 FROM incidents i WHERE i.workspace_id = c.workspace_id AND i.subject = c.id
                   AND i.status IN ('open', 'acknowledged') AND i.kind = ANY($4::text[])))`;
  const { rows } = await db.query<{ id: string }>(
    `SELECT c.id FROM customers c WHERE c.workspace_id = $1 AND c.id > $2 ${which === 'active' ? active : 'AND $4::text[] IS NOT NULL'}
     ORDER BY c.id LIMIT $3`,
    [workspaceId, after, limit, findingKinds],
  );
  return rows.map((r) => r.id);
}

/** Subjects of the list that have a live incident of these kinds: the only ones a clean check has to settle. */
export async function subjectsWithLiveIncidents(
  db: Queryable,
  workspaceId: string,
  subjects: readonly string[],
  kinds: readonly string[],
): Promise<Set<string>> {
  if (subjects.length === 0) return new Set();
  const { rows } = await db.query<{ subject: string }>(
    `SELECT DISTINCT subject FROM incidents
     WHERE workspace_id = $1 AND subject = ANY($2::text[]) AND kind = ANY($3::text[]) AND status IN ('open', 'acknowledged')`,
    [workspaceId, [...subjects], [...kinds]],
  );
  return new Set(rows.map((r) => r.subject));
}

/** Each customer's next boundary (null: none). One statement for the chunk, rows locked in id order. */
export async function setNextCheckAt(db: Queryable, next: ReadonlyMap<string, Date | null>): Promise<void> {
  if (next.size === 0) return;
  const ids = [...next.keys()].sort();
  await db.query(
    `UPDATE customers c SET next_check_at = u.at
     FROM (SELECT * FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)) u
     WHERE c.id = u.id AND c.next_check_at IS DISTINCT FROM u.at`,
    [ids, ids.map((id) => next.get(id) ?? null)],
  );
}

/**
 * Claims up to `limit` customers due for an event-triggered check (or whose checker died: its lease expired),
 * skipping rows another checker is claiming: check_due_at is cleared (a change projected meanwhile asks again)
 * and the lease set. Grouped by workspace.
 */
export async function claimDueCustomers(db: Queryable, now: Date, leaseUntil: Date, limit: number): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ id: string; workspace_id: string }>(
    `WITH due AS (
       SELECT id FROM customers
       WHERE (check_due_at <= $1 OR check_lease_until < $1) AND (check_lease_until IS NULL OR check_lease_until < $1)
       LIMIT $3 FOR UPDATE SKIP LOCKED
     )
     UPDATE customers c SET check_due_at = NULL, check_lease_until = $2 FROM due WHERE c.id = due.id
     RETURNING c.id, c.workspace_id`,
    [now, leaseUntil, limit],
  );
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.workspace_id, [...(out.get(r.workspace_id) ?? []), r.id]);
  return out;
}

/** Ends the claims of a checker (only its own lease: a lease taken over is left to its new holder). */
export async function releaseCheckLeases(db: Queryable, customerIds: readonly string[], leaseUntil: Date): Promise<void> {
  if (customerIds.length === 0) return;
  await db.query('UPDATE customers SET check_lease_until = NULL WHERE id = ANY($1::text[]) AND check_lease_until = $2', [
    [...customerIds],
    leaseUntil,
  ]);
}

/** Customers whose next boundary has passed, oldest first, by workspace. */
export async function customersPastBoundary(db: Queryable, now: Date, limit: number): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ id: string; workspace_id: string }>(
    'SELECT id, workspace_id FROM customers WHERE next_check_at <= $1 ORDER BY next_check_at, id LIMIT $2',
    [now, limit],
  );
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.workspace_id, [...(out.get(r.workspace_id) ?? []), r.id]);
  return out;
}

/**
 * The customers that events linked (their projection committed), for a debounced check. Planned per call: every
 * processed batch asks, starting on a fresh database where the table is nearly empty, and a generic plan made then
 * (a sequential scan) was kept while the table grew, until its statistics were next refreshed: 3.5-5.5 ms a batch of
 * 100 events instead of 0.25 (bench/profile/projection.ts with PROF_LOG=1).
 */
export async function customersLinkedToEvents(db: Queryable, eventIds: readonly string[]): Promise<string[]> {
  if (eventIds.length === 0) return [];
  const { rows } = await db.query<{ customer_id: string }>(
    PLANNED_PER_CALL + 'SELECT DISTINCT customer_id FROM customer_events WHERE event_id = ANY($1::text[])',
    [[...eventIds]],
  );
  return rows.map((r) => r.customer_id);
}

export interface ExpiredAccess {
  id: string;
  workspace_id: string;
  customer_id: string | null;
  provider: string;
  provider_id: string;
  resource: string;
  provider_access_id: string | null;
  expires_at: Date;
  granted_at: Date | null;
}

/**
 * Marks up to `limit` active access rows past their expiry `expired`, skipping rows another transaction holds;
 * returns them (each row is returned by exactly one call, so its access.revoked is published once).
 */
export async function expirePastAccess(db: Queryable, now: Date, limit: number): Promise<ExpiredAccess[]> {
  const { rows } = await db.query<ExpiredAccess>(
    `WITH due AS (
       SELECT id FROM access WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= $1
       ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
     )
     UPDATE access a SET status = 'expired', revoked_at = a.expires_at, updated_at = $1,
       source_rank = CASE WHEN a.provider IN ('app', 'sluice') THEN a.source_rank + 1 ELSE a.source_rank END
     FROM due WHERE a.id = due.id
     RETURNING a.id, a.workspace_id, a.customer_id, a.provider, a.provider_id, a.resource, a.provider_access_id, a.expires_at, a.granted_at`,
    [now, limit],
  );
  return rows;
}

export interface RepairedAccess {
  id: string;
  customer_id: string | null;
  provider: string;
  resource: string;
  status: string;
  granted_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date | null;
  source_rank: number;
}

/**
 * Ends active access rows by repair (`revoked`, or `expired` for rows past their expiry). Only rows still active
 * change; the rows changed are returned. App and Sluice rows count the change in source_rank (the dedupe key of
 * their access.* messages); provider rows keep their version, so the provider's next word still applies.
 */
export async function endAccessRows(
  db: Queryable,
  ids: readonly string[],
  status: 'revoked' | 'expired',
  at: Date,
): Promise<RepairedAccess[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<RepairedAccess>(
    `UPDATE access SET status = $2, revoked_at = $3, updated_at = $3,
       source_rank = CASE WHEN provider IN ('app', 'sluice') THEN source_rank + 1 ELSE source_rank END
     WHERE id = ANY($1::text[]) AND status = 'active'
     RETURNING id, customer_id, provider, resource, status, granted_at, revoked_at, expires_at, source_rank`,
    [[...ids], status, at],
  );
  return rows;
}

/** Grants a key by repair: the customer's `sluice` access row for it, inserted or made active again. */
export async function grantSluiceAccess(
  db: Queryable,
  input: { id: string; workspaceId: string; customerId: string; key: string; at: Date },
): Promise<RepairedAccess | undefined> {
  const { rows } = await db.query<RepairedAccess>(
    `INSERT INTO access (id, workspace_id, provider, provider_id, customer_id, resource, status, granted_at, source_rank, source_ts)
     VALUES ($1, $2, 'sluice', $3 || ':' || $4, $3, $4, 'active', $5, 0, $5)
     ON CONFLICT (workspace_id, provider, provider_id) DO UPDATE
       SET status = 'active', granted_at = EXCLUDED.granted_at, revoked_at = NULL, expires_at = NULL,
           source_rank = access.source_rank + 1, updated_at = EXCLUDED.granted_at
       WHERE access.status <> 'active'
     RETURNING id, customer_id, provider, resource, status, granted_at, revoked_at, expires_at, source_rank`,
    [input.id, input.workspaceId, input.customerId, input.key, input.at],
  );
  return rows[0];
}

/** The customers events name in their payload (the Stripe customer, or the Piano uid). */
export async function customersNamedByEvents(db: Queryable, eventIds: readonly string[]): Promise<string[]> {
  if (eventIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `SELECT DISTINCT c.id FROM events e CROSS JOIN LATERAL (SELECT ${payloadOf('e')} AS payload OFFSET 0) p
     JOIN customers c ON c.workspace_id = e.workspace_id AND c.provider = e.provider AND c.provider_id = COALESCE(
       p.payload->'data'->'object'->>'customer',
       CASE WHEN p.payload->'data'->'object'->>'object' = 'customer' THEN p.payload->'data'->'object'->>'id' END,
       p.payload->>'uid')
     WHERE e.id = ANY($1::text[])`,
    [[...eventIds]],
  );
  return rows.map((r) => r.id);
}

/** The live incidents (open, acknowledged, ignored) of a subject, of these kinds, newest first; no lock taken. */
export async function liveIncidentsOfSubject(
  db: Queryable,
  workspaceId: string,
  subject: string,
  kinds: readonly string[],
): Promise<IncidentRow[]> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE workspace_id = $1 AND subject = $2 AND kind = ANY($3::text[])
       AND status IN ('open', 'acknowledged', 'ignored') ORDER BY last_seen_at DESC, id DESC LIMIT 100`,
    [workspaceId, subject, [...kinds]],
  );
  return rows;
}

/**
 * For the rest of the transaction, wait at most `ms` for a lock before failing with 55P03: a check's writes give
 * way to the projection batches holding its customers' rows (see services/parity/run-checks.ts).
 */
export async function limitLockWaits(tx: Queryable, ms: number): Promise<void> {
  await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.max(1, Math.floor(ms))}ms`]);
}
