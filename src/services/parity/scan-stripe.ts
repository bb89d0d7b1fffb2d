// The Stripe part of a reconciliation scan, in phases that each persist their cursor after every page:
//   events         GET /v1/events created in the window (since the last scan, at most 30 days), the handled types
//   failed_events  the same with delivery_success=false over the last 30 days (what Stripe gave up delivering)
//                  → each event not in the store is stored through the ingest path, flagged recovered
//   await_events   the recovered events are processed (the CRM then has them) and a webhook_missed incident lists them
//   subscriptions  GET /v1/subscriptions?status=all compared with the CRM; a row that is missing or says something
//                  else (and is older than the answer) is repaired through the projection by a made-up event of
//                  deterministic id; a customer unknown to the CRM is fetched
//   tombstones     CRM subscriptions the listing did not return are fetched one by one; 404 → tombstone
//   await_repairs  the repairs are processed
// Requests go through the workspace's token bucket and are retried on 429 / 5xx / network errors, honouring
// Retry-After and Stripe-Should-Retry. Never the Search API (its results lag by minutes and it is rate-limited
// separately).
import { findConnection } from '../../db/queries/connections.js';
import { crmRowsByProviderIds, findScanState, markSeen, storedProviderEventIds, unseenSubscriptions } from '../../db/queries/scans.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { STRIPE_HANDLED_TYPES } from '../../crm/handlers.js';
import { answerMayApply, subscriptionDifferences } from '../../crm/stripe/compare.js';
import { idOf, TERMINAL_SUBSCRIPTION_STATUSES } from '../../crm/stripe/normalize.js';
import {
  createStripeClient,
  listEventsPage,
  listSubscriptionsPage,
  retrieveObject,
  type StripeClient,
  type StripeFailure,
  type StripeResult,
} from '../../inbound/stripe/api.js';
import { syntheticEventId } from '../../inbound/synthetic-event.js';
import type { ConnectionRow } from '../../db/queries/connections.js';
import { findCustomerById, type CrmRow } from '../../db/queries/crm.js';
import { openStripeSecrets } from '../connections/stripe-connection.js';
import { storeRecoveredStripeEvent } from '../ingest/store-recovered-event.js';
import { ProviderFailed, retryWaitMs, type ScanJob } from './scan-job.js';

type Obj = Record<string, unknown>;

const DAY_S = 86_400;
/** Stripe keeps events for 30 days. */
const MAX_WINDOW_S = 30 * DAY_S;
/** The next scan starts this long before where the last one stopped: an event can be listed a little after its
 *  `created` time, and an overlap costs only a page. */
const WINDOW_MARGIN_S = 3600;
/** Stripe filters at most 20 types per request. */
const TYPES_PER_REQUEST = 20;
const TYPE_GROUPS: string[][] = [];
for (let i = 0; i < STRIPE_HANDLED_TYPES.length; i += TYPES_PER_REQUEST)
  TYPE_GROUPS.push(STRIPE_HANDLED_TYPES.slice(i, i + TYPES_PER_REQUEST));
const MAX_ATTEMPTS = 8;

interface StripeScan {
  job: ScanJob;
  stripe: StripeClient;
  connection: ConnectionRow;
  demo: boolean;
}

/** A refused or missing key, or an answer that is not Stripe's, fails the provider's scan (and raises scan_failed). */
function failure(f: StripeFailure): ProviderFailed {
  switch (f.kind) {
    case 'auth':
      return new ProviderFailed('stripe', `Stripe refused the API key (401): ${f.message}`);
    case 'permission':
      return new ProviderFailed(
        'stripe',
        `the API key may not read this (403): ${f.message}; give it read access to events, subscriptions and customers`,
      );
    default:
      return new ProviderFailed('stripe', `Stripe's API could not be used: ${f.message}`);
  }
}

function retryable(f: StripeFailure): boolean {
  if (f.shouldRetry !== undefined) return f.shouldRetry;
  return f.kind === 'rate_limit' || f.status === 429 || f.status === 409 || f.kind === 'network' || (f.status ?? 0) >= 500;
}

/** One API call, throttled, retried while Stripe says it may be (honouring Retry-After). */
async function call<T>(s: StripeScan, fn: () => Promise<StripeResult<T>>): Promise<StripeResult<T>> {
  for (let attempt = 1; ; attempt++) {
    await s.job.beforeRequest();
    const r = await fn();
    if (r.ok) return r;
    const f = r.failure;
    if (f.status === 429 || f.kind === 'rate_limit') s.job.counts.rateLimited += 1;
    if (!retryable(f) || attempt >= MAX_ATTEMPTS) return r;
    const wait = retryWaitMs(f.retryAfterSeconds, attempt);
    // Every request of this workspace waits, not only this one: the limit is the account's.
    s.job.bucket.holdUntil(Date.now() + wait);
    s.job.ctx.log.info({ runId: s.job.run.id, status: f.status, waitMs: Math.round(wait) }, 'scan: Stripe asked to slow down; waiting');
  }
}

async function mustCall<T>(s: StripeScan, fn: () => Promise<StripeResult<T>>): Promise<T> {
  const r = await call(s, fn);
  if (!r.ok) throw failure(r.failure);
  return r.value;
}

function checkList(page: { data: Obj[] }): void {
  for (const item of page.data)
    if (typeof item?.id !== 'string') throw new ProviderFailed('stripe', "Stripe's list answer has an item without an id");
}

/**
 * A subscription as Stripe answers it: what the comparison takes for the truth and a repair writes over the CRM's
 * row. One without a status or its items (a proxy or a truncated answer) would end a paying customer's
 * subscription in the CRM: it fails the scan instead.
 */
function checkSubscription(o: Obj, expectedId?: string): void {
  const items = o.items as Obj | undefined;
  const id = typeof o.id === 'string' ? o.id : '(no id)';
  if (
    o.object !== 'subscription' ||
    (expectedId !== undefined && o.id !== expectedId) ||
    typeof o.status !== 'string' ||
    !items ||
    typeof items !== 'object' ||
    !Array.isArray(items.data)
  )
    throw new ProviderFailed('stripe', `Stripe's answer for ${expectedId ?? id} is not a subscription with a status and items`);
}

/**
 * The page after `cursor` must move on: Stripe never lists the object it was asked to start after, nor a cursor
 * this listing already used. An API (or a proxy in front of it) that ignores starting_after answers the same page,
 * has_more still true, for ever: the scan would ask again and again and never end.
 */
function checkAdvance(what: string, cursor: string | null, page: { data: Obj[]; hasMore: boolean }, used: Set<string>): void {
  if (!page.hasMore || page.data.length === 0) return;
  const next = String(page.data[page.data.length - 1]!.id);
  if ((cursor !== null && page.data.some((item) => item.id === cursor)) || used.has(next))
    throw new ProviderFailed(
      'stripe',
      `Stripe's list of ${what} did not move on past ${cursor ?? 'its first page'}: the page after it repeats objects already listed (is starting_after ignored?)`,
    );
  used.add(next);
}

/** Opens what the scan needs, or says why it cannot run. */
async function open(job: ScanJob): Promise<StripeScan> {
  const { ctx } = job;
  const connection = await findConnection(ctx.db, job.workspaceId, 'stripe');
  if (!connection) throw new ProviderFailed('stripe', 'Stripe is not connected to this workspace');
  let apiKey: string | undefined;
  try {
    apiKey = openStripeSecrets(ctx, connection).apiKey;
  } catch {
    throw new ProviderFailed('stripe', 'the stored Stripe API key cannot be opened with this master key');
  }
  if (!apiKey) throw new ProviderFailed('stripe', 'no Stripe API key: a scan needs a (restricted, read-only) key to ask Stripe');
  const live = /^(sk|rk)_live_/.test(apiKey);
  job.throttle('stripe', live ? ctx.config.scanRateLive : ctx.config.scanRateTest);
  const stripe = await createStripeClient(apiKey, ctx.config.stripeApiUrl, { maxNetworkRetries: 0 });
  const demo = (await findWorkspace(ctx.db, job.workspaceId))?.demo ?? false;
  return { job, stripe, connection, demo };
}

export async function scanStripe(job: ScanJob): Promise<void> {
  const s = await open(job);
  const { state } = job;
  for (;;) {
    switch (state.phase) {
      case 'start': {
        const until = Math.floor(state.startedAtMs / 1000);
        const last = await findScanState(job.ctx.db, job.workspaceId, 'stripe');
        const from =
          state.sinceMs !== null
            ? Math.floor(state.sinceMs / 1000)
            : last?.eventsUntil
              ? Math.floor(last.eventsUntil.getTime() / 1000) - WINDOW_MARGIN_S
              : until - MAX_WINDOW_S;
        const floor = await job.retentionFloorS();
        state.window = { gte: Math.max(from, until - MAX_WINDOW_S, floor), lte: until, floor };
        job.phase('events');
        await job.save();
        break;
      }
      case 'events':
      case 'failed_events':
        await eventsPhase(s, state.phase === 'failed_events');
        break;
      case 'await_events':
        await job.awaitProcessing();
        await reportMissed(job);
        job.phase('subscriptions');
        await job.save();
        break;
      case 'subscriptions':
        await subscriptionsPhase(s);
        break;
      case 'tombstones':
        await tombstonesPhase(s);
        break;
      case 'await_repairs':
        await job.awaitProcessing();
        job.phase('done');
        await job.save();
        break;
      case 'done':
        return;
      default:
        throw new Error(`unknown scan phase ${state.phase}`);
    }
  }
}

/** Pages of one events pass; each event not stored yet is recovered. */
async function eventsPhase(s: StripeScan, failedOnly: boolean): Promise<void> {
  const { job } = s;
  const { state } = job;
  const window = state.window!;
  const gte = failedOnly ? Math.max(window.lte - MAX_WINDOW_S, window.floor ?? 0) : window.gte;
  // The cursors this pass used, per group of types (a group is a listing of its own).
  let used = new Set<string>();
  while (state.group < TYPE_GROUPS.length) {
    const types = TYPE_GROUPS[state.group]!;
    const page = await mustCall(s, () =>
      listEventsPage(s.stripe, { gte, lte: window.lte, types, failedOnly, startingAfter: state.cursor }),
    );
    checkList(page);
    checkAdvance('events', state.cursor, page, used);
    job.counts.pages += 1;
    job.counts.eventsListed += page.data.length;
    const ids = page.data.map((e) => String(e.id));
    const stored = await storedProviderEventIds(job.ctx.db, job.workspaceId, 'stripe', ids);
    for (const event of page.data) {
      if (stored.has(String(event.id))) continue;
      const object = ((event.data as Obj | undefined)?.object ?? {}) as Obj;
      if (job.dryRun) {
        job.counts.recoveredEvents += 1;
        job.example({ action: 'recover', provider: 'stripe', id: String(event.id), type: String(event.type) });
        continue;
      }
      if (await storeRecoveredStripeEvent(job.ctx, { workspaceId: job.workspaceId, demo: s.demo, connection: s.connection, event })) {
        job.recovered('stripe', String(event.id));
        job.ctx.metrics.scanRecoveredEvents.inc({ provider: 'stripe' });
        job.touch('stripe', idOf(object.customer) ?? (object.object === 'customer' ? idOf(object) : null));
      }
    }
    if (page.hasMore && page.data.length > 0) state.cursor = String(page.data[page.data.length - 1]!.id);
    else {
      state.group += 1;
      state.cursor = null;
      used = new Set<string>();
    }
    await job.save();
  }
  job.phase(failedOnly ? 'await_events' : 'failed_events');
  await job.save();
}

/** The events Stripe never delivered, found by this scan. */
function reportMissed(job: ScanJob): Promise<void> {
  return job.reportMissed('stripe', {
    title: (n) => `${n} Stripe event(s) never arrived as webhooks; a scan recovered them`,
    expected: 'every event delivered to the webhook endpoint',
    actual: (n) => `${n} found only by asking Stripe's API`,
    rule: 'scan: events listed by GET /v1/events that are not in the store',
  });
}

/** A made-up event carrying an object as Stripe's API answered it at `fetchedAtMs`. */
function syntheticEvent(type: string, object: Obj, fetchedAtMs: number, runId: string, livemode: unknown): Obj {
  return {
    id: syntheticEventId('stripe', String(object.id), object),
    object: 'event',
    type,
    // The answer's time: the projection's version rule then keeps any row written by a later event.
    created: Math.floor(fetchedAtMs / 1000),
    livemode: typeof livemode === 'boolean' ? livemode : null,
    data: { object },
    request: { id: null, idempotency_key: null },
    sluice: { scan: runId },
  };
}

/** Compares one subscription with its CRM row and repairs the row when Stripe's answer is newer and different. */
async function compareSubscription(s: StripeScan, object: Obj, row: CrmRow | undefined, fetchedAtMs: number): Promise<void> {
  const { job } = s;
  if (!answerMayApply(row, fetchedAtMs)) return;
  const fields = subscriptionDifferences(row, object);
  if (fields.length === 0) return;
  const customer = idOf(object.customer);
  job.counts.repaired += 1;
  job.touch('stripe', customer);
  job.example({ action: 'repair', provider: 'stripe', id: String(object.id), fields: row && !row.stub ? fields : ['(not in the CRM)'] });
  if (job.dryRun) return;
  if (customer) {
    const known = (await crmRowsByProviderIds(job.ctx.db, 'customers', job.workspaceId, 'stripe', [customer])).get(customer);
    if (!known || known.stub) await fetchCustomer(s, customer);
  }
  const terminal = TERMINAL_SUBSCRIPTION_STATUSES.includes(String(object.status));
  const event = syntheticEvent(
    `customer.subscription.${terminal ? 'deleted' : 'updated'}`,
    object,
    fetchedAtMs,
    job.run.id,
    object.livemode,
  );
  await storeRecoveredStripeEvent(job.ctx, { workspaceId: job.workspaceId, demo: s.demo, connection: s.connection, event });
}

/** A customer behind a changed subscription that the CRM does not know yet. */
async function fetchCustomer(s: StripeScan, customerId: string): Promise<void> {
  const { job } = s;
  const fetchedAtMs = Date.now();
  const r = await call(s, () => wrap(retrieveObject(s.stripe, customerId)));
  if (!r.ok) {
    if (r.failure.kind === 'not_found') return;
    throw failure(r.failure);
  }
  job.counts.customersFetched += 1;
  const object = r.value;
  const event = syntheticEvent(
    object.deleted === true ? 'customer.deleted' : 'customer.created',
    object,
    fetchedAtMs,
    job.run.id,
    object.livemode,
  );
  await storeRecoveredStripeEvent(job.ctx, { workspaceId: job.workspaceId, demo: s.demo, connection: s.connection, event });
}

async function wrap(p: Promise<{ ok: true; object: Obj } | { ok: false; failure: StripeFailure }>): Promise<StripeResult<Obj>> {
  const r = await p;
  return r.ok ? { ok: true, value: r.object } : r;
}

async function subscriptionsPhase(s: StripeScan): Promise<void> {
  const { job } = s;
  const { state } = job;
  const used = new Set<string>();
  for (;;) {
    // The providers' clock, not ctx.now: it is compared with the times Stripe puts on its events.
    const fetchedAtMs = Date.now();
    const page = await mustCall(s, () => listSubscriptionsPage(s.stripe, { startingAfter: state.cursor }));
    checkList(page);
    checkAdvance('subscriptions', state.cursor, page, used);
    for (const object of page.data) checkSubscription(object);
    job.counts.pages += 1;
    job.counts.objectsListed += page.data.length;
    const ids = page.data.map((o) => String(o.id));
    await markSeen(job.ctx.db, job.run.id, ids);
    const rows = await crmRowsByProviderIds(job.ctx.db, 'subscriptions', job.workspaceId, 'stripe', ids);
    for (const object of page.data) await compareSubscription(s, object, rows.get(String(object.id)), fetchedAtMs);
    if (!page.hasMore || page.data.length === 0) break;
    state.cursor = ids[ids.length - 1]!;
    await job.save();
  }
  job.phase('tombstones');
  await job.save();
}

/** A 404 that only means the key is of the other mode is not a deletion. */
const OTHER_MODE = /exists in (live|test) mode/i;

async function tombstonesPhase(s: StripeScan): Promise<void> {
  const { job } = s;
  const { state } = job;
  for (;;) {
    const rows = await unseenSubscriptions(job.ctx.db, {
      workspaceId: job.workspaceId,
      provider: 'stripe',
      runId: job.run.id,
      createdBefore: new Date(state.startedAtMs),
      after: state.cursor,
      limit: 100,
    });
    for (const row of rows) {
      const providerId = String(row.provider_id);
      const fetchedAtMs = Date.now();
      const r = await call(s, () => wrap(retrieveObject(s.stripe, providerId)));
      if (r.ok) {
        checkSubscription(r.value, providerId);
        await compareSubscription(s, r.value, row, fetchedAtMs);
        continue;
      }
      if (r.failure.kind !== 'not_found') throw failure(r.failure);
      if (OTHER_MODE.test(r.failure.message) || !answerMayApply(row, fetchedAtMs)) continue;
      job.counts.tombstones += 1;
      job.example({ action: 'tombstone', provider: 'stripe', id: providerId });
      if (job.dryRun) continue;
      const customer = row.customer_id ? await customerProviderId(job, String(row.customer_id)) : null;
      job.touch('stripe', customer);
      const gone = { id: providerId, object: 'subscription', deleted: true, ...(customer ? { customer } : {}) };
      const event = syntheticEvent('customer.subscription.deleted', gone, fetchedAtMs, job.run.id, null);
      await storeRecoveredStripeEvent(job.ctx, { workspaceId: job.workspaceId, demo: s.demo, connection: s.connection, event });
    }
    if (rows.length < 100) break;
    state.cursor = String(rows[rows.length - 1]!.provider_id);
    await job.save();
  }
  job.phase('await_repairs');
  await job.save();
}

async function customerProviderId(job: ScanJob, customerId: string): Promise<string | null> {
  const row = await findCustomerById(job.ctx.db, customerId);
  return row ? String(row.provider_id) : null;
}
