// The Piano part of a reconciliation scan, through the Piano API client (aid + API token), phase by phase with
// the offset persisted after each page:
//   webhooks       /publisher/webhook/list: webhooks Piano did not deliver (failed, skipped, still pending)
//                  in the window are stored through the Piano ingest path (verified and decrypted with the
//                  workspace's key, the same dedupe key), flagged recovered
//   await_events   they are processed; a webhook_missed incident lists them
//   subscriptions  /publisher/subscription/list compared with the CRM's Piano subscriptions: one that is missing or
//                  says another status, billing date or auto-renewal is repaired by a made-up event, and its user's
//                  accesses are compared next
//   accesses       /publisher/user/access/list for those users: an access the CRM has wrong (live or not, expiry)
//                  is repaired by a made-up access event (a revoke is confirmed with Piano by the projection)
//   await_repairs  the repairs are processed
import { findConnection } from '../../db/queries/connections.js';
import { activeAccessOfPianoUser, crmRowsByProviderIds, findScanState } from '../../db/queries/scans.js';
import { PianoApiClient, type PianoApiResult } from '../../inbound/piano/api.js';
import { syntheticEventId } from '../../inbound/synthetic-event.js';
import type { CrmRow } from '../../db/queries/crm.js';
import { openPianoSecrets, pianoSettings, type PianoSettings } from '../connections/piano-connection.js';
import { storeRecoveredPianoEvent, storeSyntheticPianoEvent } from '../ingest/store-recovered-event.js';
import { ProviderFailed, retryWaitMs, type ScanJob } from './scan-job.js';

type Obj = Record<string, unknown>;

const DAY_S = 86_400;
const MAX_WINDOW_S = 30 * DAY_S;
const WINDOW_MARGIN_S = 3600;
const PAGE = 100;
const MAX_ATTEMPTS = 8;
/** Webhook statuses that mean Piano delivered it (anything else was not, or not yet). */
const DELIVERED = new Set(['success', 'succeeded', 'delivered', 'sent', 'ok', 'processed']);

interface PianoScan {
  job: ScanJob;
  client: PianoApiClient;
  settings: PianoSettings;
  privateKey: string;
}

async function open(job: ScanJob): Promise<PianoScan> {
  const { ctx } = job;
  const connection = await findConnection(ctx.db, job.workspaceId, 'piano');
  if (!connection) throw new ProviderFailed('piano', 'Piano is not connected to this workspace');
  let secrets;
  try {
    secrets = openPianoSecrets(ctx, connection);
  } catch {
    throw new ProviderFailed('piano', 'the stored Piano API token cannot be opened with this master key');
  }
  if (!secrets.apiToken) throw new ProviderFailed('piano', 'no Piano API token: a scan needs one to ask Piano');
  const settings = pianoSettings(connection);
  job.throttle('piano', settings.region === 'sandbox' ? ctx.config.scanRateTest : ctx.config.scanRateLive);
  const client = new PianoApiClient({
    aid: settings.aid,
    apiToken: secrets.apiToken,
    region: settings.region,
    baseUrl: ctx.config.pianoApiUrl,
  });
  return { job, client, settings, privateKey: secrets.privateKey };
}

function retryable(r: Extract<PianoApiResult<unknown>, { ok: false }>): boolean {
  if (r.status === 429 || (r.status ?? 0) >= 500) return true;
  return r.status === undefined && r.code === null; // no answer at all (network)
}

/** One page, throttled, retried on 429 / 5xx / no answer (honouring Retry-After); anything else fails the scan. */
async function page(s: PianoScan, path: string, params: Record<string, string | number>): Promise<Obj> {
  for (let attempt = 1; ; attempt++) {
    await s.job.beforeRequest();
    const r = await s.client.call<Obj>(path, params);
    if (r.ok) {
      s.job.counts.pages += 1;
      return r.value;
    }
    if (r.status === 429) s.job.counts.rateLimited += 1;
    if (!retryable(r) || attempt >= MAX_ATTEMPTS) {
      const refused = r.status === 401 || r.status === 403 || r.code === 401 || r.code === 403;
      throw new ProviderFailed(
        'piano',
        refused ? `Piano refused the API token: ${r.error}` : `Piano's API could not be used (${path}): ${r.error}`,
      );
    }
    const wait = retryWaitMs(r.retryAfterSeconds, attempt);
    s.job.bucket.holdUntil(Date.now() + wait);
  }
}

/**
 * Whether the list goes on after this page. Piano's lists report `total`: a page shorter than the limit asked for
 * is not the end while offset + its length is below it (an API that caps the page size answers fewer than asked).
 * Without `total`, a short page is the end. An empty page always is.
 */
function hasMore(answer: Obj, offset: number, count: number): boolean {
  if (count === 0) return false;
  const raw = answer.total;
  const total = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  return Number.isFinite(total) ? offset + count < total : count >= PAGE;
}

/**
 * The page at an offset must not start with the page before it: an API that ignores `offset` answers the first page
 * again and again, and the scan would never end. `previous` is the first id of the page before (in this process).
 */
function checkAdvance(path: string, offset: number, first: unknown, previous: { firstId?: string | undefined }): void {
  const firstId = typeof first === 'string' || typeof first === 'number' ? String(first) : undefined;
  if (offset > 0 && firstId && firstId === previous.firstId)
    throw new ProviderFailed(
      'piano',
      `Piano's answer to ${path} did not move on at offset ${offset}: the same page again (is offset ignored?)`,
    );
  previous.firstId = firstId;
}

function list(answer: Obj, key: string, path: string): Obj[] {
  const items = answer[key];
  if (items === undefined) return [];
  if (!Array.isArray(items) || items.some((i) => i === null || typeof i !== 'object')) {
    throw new ProviderFailed('piano', `Piano's answer to ${path} has a malformed \`${key}\` list`);
  }
  return items as Obj[];
}

export async function scanPiano(job: ScanJob): Promise<void> {
  const s = await open(job);
  const { state } = job;
  for (;;) {
    switch (state.phase) {
      case 'start': {
        const until = Math.floor(state.startedAtMs / 1000);
        const last = await findScanState(job.ctx.db, job.workspaceId, 'piano');
        const from =
          state.sinceMs !== null
            ? Math.floor(state.sinceMs / 1000)
            : last?.eventsUntil
              ? Math.floor(last.eventsUntil.getTime() / 1000) - WINDOW_MARGIN_S
              : until - MAX_WINDOW_S;
        const floor = await job.retentionFloorS();
        state.window = { gte: Math.max(from, until - MAX_WINDOW_S, floor), lte: until, floor };
        state.pending = [];
        job.phase('webhooks');
        await job.save();
        break;
      }
      case 'webhooks':
        await webhooksPhase(s);
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
      case 'accesses':
        await accessesPhase(s);
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

/** The `data` Piano sent (or tried to send): in the last response's request data or in its request URL. */
export function webhookData(w: Obj): string | undefined {
  const last = (w.last_webhook_response ?? w.lastWebhookResponse) as Obj | undefined;
  const requestData = last?.request_data ?? last?.requestData;
  if (typeof requestData === 'string' && requestData !== '') {
    const trimmed = requestData.trim();
    if (trimmed.startsWith('{')) {
      try {
        const parsed = JSON.parse(trimmed) as Obj;
        if (typeof parsed.data === 'string') return parsed.data;
      } catch {
        // not JSON: a form body or the data itself
      }
    }
    if (trimmed.includes('data=')) {
      const value = new URLSearchParams(trimmed.slice(trimmed.indexOf('data='))).get('data');
      if (value) return value;
    }
    if (!trimmed.includes('=') || trimmed.includes('~~~')) return trimmed;
  }
  const requestUrl = last?.request_url ?? last?.requestUrl;
  if (typeof requestUrl === 'string') {
    try {
      return new URL(requestUrl).searchParams.get('data') ?? undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function seconds(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) return null;
  return n > 10_000_000_000 ? Math.floor(n / 1000) : n; // Piano mixes seconds and milliseconds
}

async function webhooksPhase(s: PianoScan): Promise<void> {
  const { job } = s;
  const { state } = job;
  const window = state.window!;
  const previous: { firstId?: string } = {};
  for (;;) {
    const offset = Number(state.cursor ?? 0);
    const answer = await page(s, '/publisher/webhook/list', { offset, limit: PAGE });
    const items = list(answer, 'webhooks', '/publisher/webhook/list');
    checkAdvance('/publisher/webhook/list', offset, items[0]?.webhook_id ?? items[0]?.webhookId, previous);
    job.counts.eventsListed += items.length;
    for (const w of items) {
      const status = String(w.status ?? '').toLowerCase();
      if (DELIVERED.has(status)) continue;
      const created = seconds(w.create_date ?? w.createDate);
      if (created !== null && (created < window.gte || created > window.lte)) continue;
      const data = webhookData(w);
      const id = String(w.webhook_id ?? w.webhookId ?? '');
      if (!data) {
        job.ctx.log.warn({ runId: job.run.id, webhookId: id }, 'scan: an undelivered Piano webhook without its data; skipped');
        continue;
      }
      if (job.dryRun) {
        job.counts.recoveredEvents += 1;
        job.example({ action: 'recover', provider: 'piano', id, type: String(w.type ?? w.event_type ?? '') });
        continue;
      }
      const r = await storeRecoveredPianoEvent(job.ctx, {
        workspaceId: job.workspaceId,
        privateKey: s.privateKey,
        aid: s.settings.aid,
        requireHmac: s.settings.requireHmac,
        region: s.settings.region,
        data,
      });
      if (!r.ok) {
        job.ctx.log.warn(
          { runId: job.run.id, webhookId: id, reason: r.reason },
          'scan: an undelivered Piano webhook does not verify; skipped',
        );
        continue;
      }
      if (r.stored) {
        job.recovered('piano', r.providerEventId);
        job.ctx.metrics.scanRecoveredEvents.inc({ provider: 'piano' });
        const uid = (w.user as Obj | undefined)?.uid;
        job.touch('piano', typeof uid === 'string' ? uid : null);
      }
    }
    if (!hasMore(answer, offset, items.length)) break;
    state.cursor = String(offset + items.length);
    await job.save();
  }
  job.phase('await_events');
  await job.save();
}

/** The webhooks Piano failed to deliver, found by this scan. */
function reportMissed(job: ScanJob): Promise<void> {
  return job.reportMissed('piano', {
    title: (n) => `${n} Piano webhook(s) were never delivered; a scan recovered them`,
    expected: 'every webhook delivered',
    actual: (n) => `${n} found only in Piano's webhook list`,
    rule: 'scan: /publisher/webhook/list entries not delivered and not in the store',
  });
}

const PIANO_ENDED = new Set(['cancelled', 'canceled', 'expired', 'completed', 'ended', 'terminated']);

function crmStatus(pianoStatus: unknown): 'active' | 'canceled' | null {
  const s = String(pianoStatus ?? '').toLowerCase();
  if (s === 'active') return 'active';
  return PIANO_ENDED.has(s) ? 'canceled' : null;
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : null);

/**
 * The id of a repair: from the object, what the repair says, and the CRM row it sets right as it stands (its last
 * write). A rerun while the repair waits to be processed makes the same id (stored once); the same repair needed
 * again later, after the row was written meanwhile (an access revoked by a scan, granted again by a webhook, ended
 * again in Piano), makes a new one: with the content alone it was taken for the first, already stored, and nothing
 * was repaired.
 */
function repairId(objectId: string, payload: Obj, row: CrmRow | undefined): string {
  const against = row && !row.stub ? { status: row.status ?? null, version: row.source_event_id ?? null, at: iso(row.updated_at) } : null;
  return syntheticEventId('piano', objectId, { payload, against });
}

/** The fields of a Piano subscription the CRM has differently (empty when it matches). */
export function pianoSubscriptionDifferences(row: CrmRow | undefined, sub: Obj): string[] {
  if (!row || row.stub) return ['(not in the CRM)'];
  const fields: string[] = [];
  const status = crmStatus(sub.status);
  if (status && row.status !== status) fields.push('status');
  // The billing date matters while the subscription lives; an ended one keeps whatever its end wrote.
  const nextBill = seconds(sub.next_bill_date);
  if (status === 'active' && nextBill !== null && iso(row.current_period_end) !== new Date(nextBill * 1000).toISOString()) {
    fields.push('current_period_end');
  }
  if (typeof sub.auto_renew === 'boolean' && row.cancel_at_period_end !== !sub.auto_renew) fields.push('cancel_at_period_end');
  return fields;
}

async function subscriptionsPhase(s: PianoScan): Promise<void> {
  const { job } = s;
  const { state } = job;
  const previous: { firstId?: string } = {};
  for (;;) {
    const offset = Number(state.cursor ?? 0);
    const fetchedAtS = Math.floor(Date.now() / 1000);
    const answer = await page(s, '/publisher/subscription/list', { offset, limit: PAGE });
    const items = list(answer, 'subscriptions', '/publisher/subscription/list');
    checkAdvance('/publisher/subscription/list', offset, items[0]?.subscription_id, previous);
    job.counts.objectsListed += items.length;
    const ids = items.map((i) => String(i.subscription_id ?? '')).filter(Boolean);
    const rows = await crmRowsByProviderIds(job.ctx.db, 'subscriptions', job.workspaceId, 'piano', ids);
    for (const sub of items) {
      const id = String(sub.subscription_id ?? '');
      const uid = (sub.user as Obj | undefined)?.uid;
      if (!id || typeof uid !== 'string') continue;
      const fields = pianoSubscriptionDifferences(rows.get(id), sub);
      if (fields.length === 0) continue;
      job.counts.repaired += 1;
      job.touch('piano', uid);
      if (!state.pending.includes(uid)) state.pending.push(uid);
      job.example({ action: 'repair', provider: 'piano', id, fields });
      if (job.dryRun) continue;
      const term = sub.term as Obj | undefined;
      const payload: Obj = {
        version: 2,
        type: 'subscription_auto_renew_changed',
        event: 'sluice_scan',
        aid: s.settings.aid,
        uid,
        subscription_id: id,
        status: sub.status,
        ...(typeof sub.auto_renew === 'boolean' ? { auto_renew: sub.auto_renew } : {}),
        ...(seconds(sub.next_bill_date) !== null ? { next_bill_date: seconds(sub.next_bill_date) } : {}),
        ...(term?.term_id ? { term_id: term.term_id, term_name: term.name } : {}),
      };
      await storeSyntheticPianoEvent(job.ctx, {
        workspaceId: job.workspaceId,
        providerEventId: repairId(id, payload, rows.get(id)),
        // The answer's time orders it against the events the CRM has (see the projection's version rule).
        payload: { ...payload, timestamp: fetchedAtS },
        region: s.settings.region,
      });
    }
    if (!hasMore(answer, offset, items.length)) break;
    state.cursor = String(offset + items.length);
    await job.save();
  }
  job.phase('accesses');
  await job.save();
}

async function accessesPhase(s: PianoScan): Promise<void> {
  const { job } = s;
  const { state } = job;
  for (let i = Number(state.cursor ?? 0); i < state.pending.length; i++) {
    const uid = state.pending[i]!;
    const accesses: Obj[] = [];
    const previous: { firstId?: string } = {};
    // Whether the whole list was read: only then is an access missing from it one Piano no longer has.
    let complete = false;
    for (let offset = 0; offset < 10_000;) {
      const answer = await page(s, '/publisher/user/access/list', { uid, offset, limit: PAGE });
      const items = list(answer, 'accesses', '/publisher/user/access/list');
      checkAdvance('/publisher/user/access/list', offset, items[0]?.access_id, previous);
      accesses.push(...items);
      if (!hasMore(answer, offset, items.length)) {
        complete = true;
        break;
      }
      offset += items.length;
    }
    await compareAccesses(s, uid, accesses, complete);
    state.cursor = String(i + 1);
    await job.save();
  }
  job.phase('await_repairs');
  await job.save();
}

async function compareAccesses(s: PianoScan, uid: string, accesses: Obj[], complete: boolean): Promise<void> {
  const { job } = s;
  const nowS = job.ctx.now() / 1000;
  const ids = accesses.map((a) => String(a.access_id ?? '')).filter(Boolean);
  const rows = await crmRowsByProviderIds(job.ctx.db, 'access', job.workspaceId, 'piano', ids);
  const seen = new Set(ids);
  const repairs: { payload: Obj; row: CrmRow | undefined }[] = [];
  for (const a of accesses) {
    const id = String(a.access_id ?? '');
    if (!id) continue;
    const expires = seconds(a.expire_date);
    const live = a.granted !== false && a.revoked !== true && (expires === null || expires > nowS);
    const row = rows.get(id);
    const rowLive = row?.status === 'active';
    const sameExpiry = iso(row?.expires_at) === (expires === null ? null : new Date(expires * 1000).toISOString());
    if (live === rowLive && (!live || sameExpiry)) continue;
    if (!live && !row) continue; // an ended access the CRM never had: nothing to say
    const rid = (a.resource as Obj | undefined)?.rid;
    repairs.push({
      payload: {
        version: 2,
        type: live ? (row ? 'access_modified' : 'access_granted') : 'access_revoked',
        event: 'sluice_scan',
        aid: s.settings.aid,
        uid,
        rid: typeof rid === 'string' ? rid : (row?.resource ?? null),
        access_id: id,
        expires,
      },
      row,
    });
  }
  // Accesses the CRM holds active that Piano no longer lists for the user (known only from a list read to its end).
  for (const row of complete ? await activeAccessOfPianoUser(job.ctx.db, job.workspaceId, uid) : []) {
    const id = String(row.provider_access_id ?? row.provider_id);
    if (seen.has(id)) continue;
    repairs.push({
      payload: {
        version: 2,
        type: 'access_revoked',
        event: 'sluice_scan',
        aid: s.settings.aid,
        uid,
        rid: row.resource,
        access_id: id,
        expires: null,
      },
      row,
    });
  }
  for (const { payload, row } of repairs) {
    job.counts.repaired += 1;
    job.example({ action: 'repair', provider: 'piano', id: String(payload.access_id), type: String(payload.type) });
    if (job.dryRun) continue;
    await storeSyntheticPianoEvent(job.ctx, {
      workspaceId: job.workspaceId,
      providerEventId: repairId(String(payload.access_id), payload, row),
      payload,
      region: s.settings.region,
    });
  }
}
