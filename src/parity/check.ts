// The parity check: does this customer have exactly the access they pay for? Pure: the customer's CRM state,
// the workspace's policy and the time in, findings out — the same answer for the same input, so every rule is
// tested row by row and the clock is a parameter. docs/parity.md states the rules as a table; keep them in step.
//
// Vocabulary:
// - a subscription *grants* when the policy says its state grants access now (status, grace, pause);
// - each item of a subscription stands for access *keys* (through the access map, else its product / Piano rid);
// - actual access is the active, unexpired access rows, each standing for a key (through the access map, else
//   its resource); a row counts for a key only when it comes from one of the key's sources (or from Sluice's
//   own repair grants);
// - a key with no source is not checked for missing or unpaid access (no flood of findings on day one).
import type { AccessSource, ParityPolicy } from './policy.js';

export const FINDING_KINDS = [
  'access_missing',
  'access_unpaid',
  'access_expired',
  'refunded_but_active',
  'duplicate_subscription',
  'entitlement_drift',
  'stuck_event',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/** Where an access row comes from, by its provider; `sluice` rows are grants made by the parity repair. */
export type RowSource = AccessSource | 'sluice';

export interface SubscriptionItemState {
  price?: string | null;
  product?: string | null;
  /** The price's lookup_key (from the price row). */
  lookupKey?: string | null;
  /** Piano: the resource the subscription gives access to. */
  rid?: string | null;
}

export interface SubscriptionState {
  id: string;
  provider: string;
  providerId: string;
  status: string | null;
  items: SubscriptionItemState[];
  currentPeriodStart: Date | null;
  /** When the oldest renewal still unpaid fell due (Stripe: the earliest open invoice of the subscription, its
   *  period_end, which for a renewal is the start of the period it bills); null when none is known. */
  unpaidSince?: Date | null;
  currentPeriodEnd: Date | null;
  trialEnd: Date | null;
  cancelAt: Date | null;
  cancelAtPeriodEnd?: boolean;
  endedAt?: Date | null;
  pauseCollection: unknown;
  deleted?: boolean;
}

export interface AccessState {
  id: string;
  /** The row's provider: stripe, piano, app, workflows, sluice. */
  provider: string;
  resource: string;
  status: string;
  expiresAt: Date | null;
  grantedAt?: Date | null;
}

/** The newest paid invoice of a subscription (what pays for its current period). */
export interface InvoiceState {
  providerId: string;
  subscriptionProviderId: string | null;
  amountPaid: number | null;
}

/** A charge that was (partly or fully) refunded, with the invoice it paid when known. */
export interface RefundedChargeState {
  id: string;
  providerId: string;
  invoiceProviderId: string | null;
  amount: number | null;
  /** The larger of the charge's amount_refunded and the sum of its succeeded refunds. */
  amountRefunded: number;
}

/** An event of this customer that failed, or is still unprocessed. */
export interface EventState {
  id: string;
  type: string;
  status: string;
  receivedAt: Date;
}

export interface CustomerState {
  customer: { id: string; provider: string; providerId: string };
  subscriptions: SubscriptionState[];
  /** Active access rows (the others cannot give access). */
  access: AccessState[];
  invoices: InvoiceState[];
  refundedCharges: RefundedChargeState[];
  events: EventState[];
}

export interface Finding {
  kind: FindingKind;
  key?: string;
  /** The customer's Sluice id. */
  subject: string;
  expected: string;
  actual: string;
  rule: string;
  evidence: { subscriptionIds: string[]; accessIds: string[]; eventIds: string[] };
}

export interface KeyReport {
  key: string;
  sources: RowSource[];
  /** Whether missing/unpaid access is checked for this key (it has sources). */
  checked: boolean;
  /** Whether a granting, unrefunded subscription pays for this key. */
  expected: boolean;
  /** Whether an active, unexpired row of one of its sources gives it. */
  actual: boolean;
  subscriptions: { id: string; status: string | null; grants: boolean; rule: string }[];
  access: { id: string; source: string; resource: string; expiresAt: string | null; counted: boolean }[];
  /** The rule that decided the outcome for this key. */
  rule: string;
  findings: FindingKind[];
}

export interface CheckResult {
  findings: Finding[];
  keys: KeyReport[];
  /** The earliest future instant at which the answer may change by time alone; null when none. */
  nextCheckAt: Date | null;
}

export const TERMINAL_STATUSES = ['canceled', 'incomplete_expired'];
const DAY_MS = 86_400_000;

export function rowSource(provider: string): RowSource | undefined {
  switch (provider) {
    case 'stripe':
      return 'stripe_entitlements';
    case 'piano':
    case 'app':
    case 'workflows':
    case 'sluice':
      return provider;
    default:
      return undefined;
  }
}

/** The source as the CRM views name it (Sluice's own repair grants are `parity_repair` there). */
function sourceName(provider: string): string {
  const source = rowSource(provider);
  return source === 'sluice' ? 'parity_repair' : (source ?? provider);
}

interface Grant {
  grants: boolean;
  /** Not ended: a live subscription that does not grant is a state of the subscription, not its end. */
  live: boolean;
  rule: string;
  /** When this answer changes by time alone (grace end, period end of a Piano subscription). */
  boundary?: Date;
}

const iso = (d: Date) => d.toISOString();

/** Whether a subscription grants access now under the policy, and why. */
export function subscriptionGrant(sub: SubscriptionState, policy: ParityPolicy, now: Date): Grant {
  const status = sub.status ?? 'unknown';
  if (sub.deleted) return { grants: false, live: false, rule: 'the subscription was deleted' };
  if (sub.provider === 'piano') {
    const end = sub.endedAt ?? (sub.cancelAtPeriodEnd ? sub.currentPeriodEnd : null) ?? sub.cancelAt;
    if (status === 'active' || status === 'past_due') {
      if (end && end.getTime() <= now.getTime()) return { grants: false, live: false, rule: `Piano subscription ended at ${iso(end)}` };
      // Piano runs its own grace on a failed renewal by extending the access's expiry: past_due still grants.
      return {
        grants: true,
        live: true,
        rule: status === 'active' ? 'Piano subscription is active' : 'Piano subscription is past_due (Piano keeps access during its grace)',
        ...(end ? { boundary: end } : {}),
      };
    }
    return { grants: false, live: !TERMINAL_STATUSES.includes(status), rule: `Piano subscription is ${status}` };
  }
  if (TERMINAL_STATUSES.includes(status)) return { grants: false, live: false, rule: `status ${status} never grants access` };
  if (status === 'past_due') {
    // past_due can last forever (Stripe's retries off, "leave past_due"): the grace is counted from the renewal
    // whose payment failed, never granted on the status alone. That is the oldest renewal still unpaid when one
    // is known: a subscription left past_due goes on renewing (a new period, a new open invoice each month), and
    // counted from the current period's start its grace began again every period.
    const since = [sub.currentPeriodStart, sub.unpaidSince]
      .filter((d): d is Date => d instanceof Date)
      .sort((a, b) => a.getTime() - b.getTime())[0];
    if (!since) return { grants: false, live: true, rule: 'past_due with no period start: its grace cannot be counted' };
    const graceEnd = new Date(since.getTime() + policy.pastDueGraceDays * DAY_MS);
    const days = Math.floor((now.getTime() - since.getTime()) / DAY_MS);
    if (now.getTime() < graceEnd.getTime())
      return {
        grants: true,
        live: true,
        rule: `past_due for ${days} days, within pastDueGraceDays ${policy.pastDueGraceDays}`,
        boundary: graceEnd,
      };
    return { grants: false, live: true, rule: `past_due for ${days} days > pastDueGraceDays ${policy.pastDueGraceDays}` };
  }
  if (status === 'paused') {
    return policy.pausedGrantsAccess
      ? { grants: true, live: true, rule: 'paused, and pausedGrantsAccess is true' }
      : { grants: false, live: true, rule: 'paused, and pausedGrantsAccess is false' };
  }
  if (!policy.grantStatuses.includes(status))
    return { grants: false, live: true, rule: `status ${status} is not in grantStatuses (${policy.grantStatuses.join(', ')})` };
  if (sub.pauseCollection !== null && sub.pauseCollection !== undefined) {
    return policy.pauseCollectionGrantsAccess
      ? { grants: true, live: true, rule: `${status} with collection paused, and pauseCollectionGrantsAccess is true` }
      : { grants: false, live: true, rule: `${status} with collection paused, and pauseCollectionGrantsAccess is false` };
  }
  return { grants: true, live: true, rule: `status ${status} is in grantStatuses` };
}

/** The keys one subscription item stands for: every access-map entry it matches, else its product (Piano: rid). */
function itemKeys(sub: SubscriptionState, item: SubscriptionItemState, policy: ParityPolicy): { keys: string[]; mapped: boolean } {
  const keys = new Set<string>();
  for (const e of policy.accessMap) {
    const m = e.match;
    if (
      (m.price !== undefined && m.price === item.price) ||
      (m.product !== undefined && m.product === item.product) ||
      (m.lookupKey !== undefined && m.lookupKey === item.lookupKey) ||
      (m.rid !== undefined && m.rid === item.rid)
    )
      keys.add(e.key);
  }
  if (keys.size > 0) return { keys: [...keys], mapped: true };
  const fallback = sub.provider === 'piano' ? item.rid : item.product;
  return { keys: fallback ? [fallback] : [], mapped: false };
}

/** The key an access row stands for: a matching entry (entitlement lookup_key, Piano rid), else its resource. */
function rowKey(row: AccessState, policy: ParityPolicy): string {
  const source = rowSource(row.provider);
  if (source === 'stripe_entitlements' || source === 'piano') {
    const entry = policy.accessMap.find((e) => (source === 'piano' ? e.match.rid === row.resource : e.match.lookupKey === row.resource));
    if (entry) return entry.key;
  }
  return row.resource;
}

interface KeyInfo {
  key: string;
  /** From the access map (entries for this key), else the defaults. */
  configured: boolean;
  sources: Set<RowSource>;
  /** Subscriptions whose items stand for this key. */
  subs: SubscriptionState[];
  rows: AccessState[];
  /** An unmapped key known from a Stripe entitlement row: which product carries it is unknown. */
  entitlementDefault: boolean;
  /** An unmapped key known from Piano (an access row's or a subscription's rid). */
  pianoDefault: boolean;
}

/** Whether the customer's last paid invoice of this subscription was refunded in full. */
function refundedSubscription(sub: SubscriptionState, state: CustomerState): RefundedChargeState | undefined {
  const invoice = state.invoices.find((i) => i.subscriptionProviderId === sub.providerId);
  if (!invoice || !(Number(invoice.amountPaid ?? 0) > 0)) return undefined;
  const charges = state.refundedCharges.filter((c) => c.invoiceProviderId === invoice.providerId);
  if (charges.length === 0) return undefined;
  const full = charges.filter((c) => c.amount !== null && c.amount > 0 && c.amountRefunded >= c.amount);
  const refunded = full.reduce((n, c) => n + c.amountRefunded, 0);
  return refunded >= Number(invoice.amountPaid) ? full[0] : undefined;
}

function list(names: string[]): string {
  return names.length ? names.join(', ') : 'none';
}

export function checkCustomer(state: CustomerState, policy: ParityPolicy, now: Date): CheckResult {
  const subject = state.customer.id;
  const t = now.getTime();
  const findings: Finding[] = [];
  const boundaries: Date[] = [];
  const future = (d: Date | null | undefined) => {
    if (d && d.getTime() > t) boundaries.push(d);
  };

  // Subscriptions: whether each grants, and the time its answer may change.
  const grant = new Map<string, Grant>();
  for (const sub of state.subscriptions) {
    const g = subscriptionGrant(sub, policy, now);
    grant.set(sub.id, g);
    if (g.live) {
      future(sub.trialEnd);
      future(sub.currentPeriodEnd);
      future(sub.cancelAt);
    }
    future(g.boundary);
  }
  const refunded = new Map<string, RefundedChargeState>();
  for (const sub of state.subscriptions) {
    const r = sub.provider === 'stripe' ? refundedSubscription(sub, state) : undefined;
    if (r) refunded.set(sub.id, r);
  }

  const keys = new Map<string, KeyInfo>();
  const info = (key: string): KeyInfo => {
    let k = keys.get(key);
    if (!k) {
      const entries = policy.accessMap.filter((e) => e.key === key);
      k = {
        key,
        configured: entries.length > 0,
        sources: new Set(entries.flatMap((e) => e.sources)),
        subs: [],
        rows: [],
        entitlementDefault: false,
        pianoDefault: false,
      };
      keys.set(key, k);
    }
    return k;
  };

  for (const sub of state.subscriptions) {
    for (const item of sub.items) {
      const { keys: ks, mapped } = itemKeys(sub, item, policy);
      for (const key of ks) {
        const k = info(key);
        if (!k.subs.includes(sub)) k.subs.push(sub);
        if (!mapped && sub.provider === 'piano' && !k.configured) {
          k.pianoDefault = true;
          k.sources.add('piano');
        }
      }
    }
  }

  // Access rows: past their expiry they are findings of their own and give nothing; the others give their key.
  const expiredByKey = new Map<string, AccessState[]>();
  for (const row of state.access) {
    if (row.status !== 'active') continue;
    const key = rowKey(row, policy);
    if (row.expiresAt && row.expiresAt.getTime() <= t) {
      expiredByKey.set(key, [...(expiredByKey.get(key) ?? []), row]);
      continue;
    }
    future(row.expiresAt);
    const k = info(key);
    k.rows.push(row);
    if (!k.configured) {
      const source = rowSource(row.provider);
      if (source === 'stripe_entitlements') {
        k.entitlementDefault = true;
        k.sources.add('stripe_entitlements');
      } else if (source === 'piano') {
        k.pianoDefault = true;
        k.sources.add('piano');
      }
    }
  }
  for (const [key, rows] of expiredByKey) {
    info(key);
    findings.push({
      kind: 'access_expired',
      key,
      subject,
      expected: `access to ${key} ended at ${iso(rows[0]!.expiresAt!)}`,
      actual: `${rows.length} access row(s) still active (${rows.map((r) => r.provider).join(', ')})`,
      rule: 'an access row whose expires_at has passed must be expired',
      evidence: { subscriptionIds: [], accessIds: rows.map((r) => r.id), eventIds: [] },
    });
  }

  const stripeSubs = state.subscriptions.filter((s) => s.provider === 'stripe');
  const reports: KeyReport[] = [];
  for (const k of [...keys.values()].sort((a, b) => a.key.localeCompare(b.key))) {
    // An entitlement key with no entry is carried by some product we cannot name: any Stripe subscription may.
    const entitlementOnly = k.entitlementDefault && k.subs.length === 0;
    const candidates = entitlementOnly ? stripeSubs : k.subs;
    const granting = candidates.filter((s) => grant.get(s.id)!.grants);
    const paying = granting.filter((s) => !refunded.has(s.id));
    const live = candidates.filter((s) => grant.get(s.id)!.live);
    const sources = [...k.sources];
    const checked = sources.length > 0;
    const counted = (row: AccessState) => {
      const source = rowSource(row.provider);
      return source !== undefined && (source === 'sluice' || k.sources.has(source));
    };
    const rows = k.rows.filter(counted);
    const expected = paying.length > 0;
    const actual = rows.length > 0;
    const kinds: FindingKind[] = [];
    const subIds = (subs: SubscriptionState[]) => subs.map((s) => s.id);
    const describe = (subs: SubscriptionState[]) => list(subs.map((s) => `${s.providerId} (${grant.get(s.id)!.rule})`));
    const add = (f: Omit<Finding, 'subject' | 'key'>) => {
      findings.push({ ...f, key: k.key, subject });
      kinds.push(f.kind);
    };
    let rule: string;

    // Paying twice for one key: a fact whatever the key's sources.
    const distinctPaying = k.subs.filter((s) => grant.get(s.id)!.grants);
    if (!entitlementOnly && distinctPaying.length > 1) {
      add({
        kind: 'duplicate_subscription',
        expected: `one granting subscription for ${k.key}`,
        actual: `${distinctPaying.length} granting subscriptions: ${describe(distinctPaying)}`,
        rule: 'two granting subscriptions for one key',
        evidence: { subscriptionIds: subIds(distinctPaying), accessIds: [], eventIds: [] },
      });
    }

    if (!checked) {
      rule = `key ${k.key} has no configured source: missing or unpaid access is not checked`;
    } else if (expected && !entitlementOnly && !actual) {
      const onlyEntitlements = sources.length === 1 && sources[0] === 'stripe_entitlements';
      rule = `${describe(paying)} pays for ${k.key}; no active access row from ${list(sources)}`;
      add({
        kind: onlyEntitlements ? 'entitlement_drift' : 'access_missing',
        expected: `access to ${k.key} (paid by ${list(paying.map((s) => s.providerId))})`,
        actual: onlyEntitlements ? 'no active Stripe entitlement' : `no active access row from ${list(sources)}`,
        rule: `${grant.get(paying[0]!.id)!.rule}; key ${k.key} has sources ${list(sources)}`,
        evidence: { subscriptionIds: subIds(paying), accessIds: [], eventIds: [] },
      });
    } else if (actual && granting.length === 0) {
      const entitlementRows = rows.filter((r) => rowSource(r.provider) === 'stripe_entitlements');
      const otherRows = rows.filter((r) => rowSource(r.provider) !== 'stripe_entitlements');
      const liveStripe = live.filter((s) => s.provider === 'stripe');
      // A live Stripe subscription the policy does not let grant, while Stripe still lists the entitlement:
      // Stripe and the policy disagree (a trial ended into paused keeps its entitlements).
      let drifted = false;
      if (entitlementRows.length > 0 && liveStripe.length > 0) {
        drifted = true;
        add({
          kind: 'entitlement_drift',
          expected: `no entitlement to ${k.key}: ${describe(liveStripe)}`,
          actual: `Stripe entitlement ${list(entitlementRows.map((r) => r.resource))} active`,
          rule: grant.get(liveStripe[0]!.id)!.rule,
          evidence: { subscriptionIds: subIds(liveStripe), accessIds: entitlementRows.map((r) => r.id), eventIds: [] },
        });
      }
      const unpaidRows = drifted ? otherRows : rows;
      // Piano access needs no subscription (free access, promo, gifts): unpaid only when a Piano subscription
      // for it exists and does not grant.
      const pianoSubs = candidates.filter((s) => s.provider === 'piano');
      const judged = unpaidRows.filter((r) => rowSource(r.provider) !== 'piano' || pianoSubs.length > 0);
      if (judged.length > 0) {
        add({
          kind: 'access_unpaid',
          expected: candidates.length
            ? `no access to ${k.key}: no subscription for it grants (${describe(candidates)})`
            : `no access to ${k.key}: no subscription for it`,
          actual: `active access from ${list([...new Set(judged.map((r) => r.provider))])}`,
          rule: candidates.length ? grant.get(candidates[0]!.id)!.rule : `no subscription stands for ${k.key}`,
          evidence: { subscriptionIds: subIds(candidates), accessIds: judged.map((r) => r.id), eventIds: [] },
        });
      }
      rule =
        drifted || judged.length > 0 ? 'active access with no granting subscription' : 'free Piano access (no Piano subscription for it)';
    } else if (actual && paying.length === 0) {
      const charges = granting.map((s) => refunded.get(s.id)!);
      add({
        kind: 'refunded_but_active',
        expected: `no access to ${k.key}: its payment was refunded`,
        actual: `active access from ${list([...new Set(rows.map((r) => r.provider))])}`,
        rule: `charge ${list(charges.map((c) => c.providerId))} refunded in full and no other subscription pays for ${k.key}`,
        evidence: { subscriptionIds: subIds(granting), accessIds: rows.map((r) => r.id), eventIds: [] },
      });
      rule = 'paid, then refunded in full';
    } else if (expected && actual) {
      rule = entitlementOnly
        ? `Stripe entitlement with a granting Stripe subscription (${describe(paying)})`
        : `paid by ${describe(paying)}; access from ${list([...new Set(rows.map((r) => r.provider))])}`;
    } else if (entitlementOnly && !actual) {
      rule = 'no entitlement and no product known to carry it';
    } else {
      rule = candidates.length
        ? `no subscription grants ${k.key} (${describe(candidates)}) and no access`
        : `nothing pays for or gives ${k.key}`;
    }

    reports.push({
      key: k.key,
      sources,
      checked,
      expected: expected && !entitlementOnly ? true : expected && actual,
      actual,
      subscriptions: candidates.map((s) => ({ id: s.id, status: s.status, grants: grant.get(s.id)!.grants, rule: grant.get(s.id)!.rule })),
      access: k.rows.map((r) => ({
        id: r.id,
        source: sourceName(r.provider),
        resource: r.resource,
        expiresAt: r.expiresAt ? iso(r.expiresAt) : null,
        counted: counted(r),
      })),
      rule,
      findings: kinds,
    });
  }
  for (const [key, rows] of expiredByKey) {
    const r = reports.find((x) => x.key === key);
    if (r) r.findings.push('access_expired');
    else
      reports.push({
        key,
        sources: [],
        checked: false,
        expected: false,
        actual: false,
        subscriptions: [],
        access: rows.map((row) => ({
          id: row.id,
          source: sourceName(row.provider),
          resource: row.resource,
          expiresAt: row.expiresAt ? iso(row.expiresAt) : null,
          counted: false,
        })),
        rule: 'the access row is past its expiry',
        findings: ['access_expired'],
      });
  }

  // Events of this customer that failed, or waited too long: the CRM may be missing what they say.
  const stuckAfter = policy.stuckEventMinutes * 60_000;
  const stuck = state.events.filter((e) => e.status === 'failed' || t - e.receivedAt.getTime() >= stuckAfter);
  for (const e of state.events) if (e.status !== 'failed') future(new Date(e.receivedAt.getTime() + stuckAfter));
  if (stuck.length > 0) {
    const failed = stuck.filter((e) => e.status === 'failed').length;
    findings.push({
      kind: 'stuck_event',
      subject,
      expected: 'every event of this customer processed',
      actual: `${failed} failed, ${stuck.length - failed} unprocessed for over ${policy.stuckEventMinutes} minutes (${list(
        [...new Set(stuck.map((e) => e.type))].slice(0, 5),
      )})`,
      rule: `an event failed, or is unprocessed after stuckEventMinutes ${policy.stuckEventMinutes}`,
      evidence: { subscriptionIds: [], accessIds: [], eventIds: stuck.map((e) => e.id).slice(0, 50) },
    });
  }

  const nextCheckAt = boundaries.length ? new Date(Math.min(...boundaries.map((d) => d.getTime()))) : null;
  return { findings, keys: reports, nextCheckAt };
}
