// One attempt of one claimed delivery: sign with Standard Webhooks headers, POST, record the attempt, and move
// the delivery on (done, retry on the schedule with jitter and Retry-After, or failed). A 410 disables the
// endpoint, or removes it when it is a REST Hooks subscription. An endpoint failing without a success for
// SLUICE_ENDPOINT_DISABLE_AFTER_SECONDS (5 days) is disabled, with an incident and an incident.opened message.
// The worker starts one attempt per claimed delivery; the attempts of a batch read their endpoints and messages
// in one round of queries, and attempts that finish together are recorded in one transaction (see coalesce.ts),
// so a delivery costs a fraction of a query instead of a dozen.
import {
  findDeliveryParts,
  lockDeliveriesForRecord,
  recordAttempts,
  releaseDeliveryClaims,
  type AttemptRecord,
  type ClaimedDelivery,
} from '../../db/queries/deliveries.js';
import { deleteEndpoint, findEndpoint, updateEndpoint, type EndpointRow } from '../../db/queries/endpoints.js';
import { findRawEvent } from '../../db/queries/events.js';
import type { MessageRow } from '../../db/queries/messages.js';
import { newId } from '../../lib/ids.js';
import { nextAttemptDelay, parseRetryAfter } from '../../outbound/backoff.js';
import type { Sender, SendResult } from '../../outbound/send.js';
import { StoreUnavailableError } from '../../errors.js';
import { signatureHeader } from '../../outbound/sign.js';
import { raiseIncident } from '../incidents/raise-incident.js';
import type { Ctx } from '../context.js';
import { coalesce } from '../../lib/coalesce.js';
import { openEndpointToSend, signingSecrets, type OpenedEndpoint } from './endpoint-view.js';
import { messageBody } from './message-body.js';

export type AttemptOutcome = 'succeeded' | 'retry' | 'failed' | 'gone' | 'skipped';

const USER_AGENT = 'Sluice-Webhooks/1.0';

interface OutboundRequest {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body: string;
}

/** A message as a signed Standard Webhooks POST. */
function signedRequest(url: string, message: MessageRow, sealed: OpenedEndpoint, now: number): OutboundRequest {
  const body = JSON.stringify(messageBody(message));
  const timestamp = Math.floor(now / 1000);
  return {
    url,
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': message.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader({ id: message.id, timestamp, body, secrets: signingSecrets(sealed, now) }),
    },
  };
}

/** The destination's URL with Piano's `data=…` added to its query (a GET webhook is forwarded as a GET). A fragment,
 *  which HTTP never sends, is dropped: appended after it, the data went into the fragment and never left Sluice. */
export function forwardGetUrl(url: string, data: string): string {
  const hash = url.indexOf('#');
  const base = hash === -1 ? url : url.slice(0, hash);
  return `${base}${base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?'}${data}`;
}

/** A Piano webhook as Piano sent it: the same method and the same `data` string, for the destination to decrypt. */
async function pianoForwardRequest(ctx: Ctx, url: string, message: MessageRow): Promise<OutboundRequest | undefined> {
  if (message.source_provider !== 'piano' || !message.source_event_id) return undefined;
  const raw = await findRawEvent(ctx.db, message.workspace_id, 'piano', message.source_event_id);
  if (!raw) return undefined;
  const data = `data=${encodeURIComponent(raw.rawBody)}`;
  return raw.inboundMethod === 'GET'
    ? { url: forwardGetUrl(url, data), method: 'GET', headers: {}, body: '' }
    : { url, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: data };
}

type Message = MessageRow & { fingerprint: string };
type Parts = { endpoint: EndpointRow; message: Message } | undefined;

// A batch at most this big shares one read or one record transaction.
const MAX_BATCH = 256;

function partsLoader(ctx: Ctx) {
  return coalesce<ClaimedDelivery, Parts>(
    async (claimed) => {
      const { endpoints, messages } = await findDeliveryParts(
        ctx.db,
        [...new Set(claimed.map((d) => d.endpointId))],
        [...new Set(claimed.map((d) => d.messageId))],
      );
      const endpointById = new Map(endpoints.map((e) => [e.id, e]));
      const messageById = new Map(messages.map((m) => [m.id, m]));
      return claimed.map((d) => {
        const endpoint = endpointById.get(d.endpointId);
        const message = messageById.get(d.messageId);
        return endpoint && message && message.workspace_id === d.workspaceId ? { endpoint, message } : undefined;
      });
    },
    { maxBatch: MAX_BATCH, serial: false },
  );
}

interface Finished {
  delivery: ClaimedDelivery;
  /** The message's fingerprint when it was sent. */
  fingerprint: string;
  attempt: AttemptRecord;
}

interface Recorded {
  /** False when the delivery, or what owns it, was deleted while the request was out, or when `claimLost`. */
  recorded: boolean;
  /** This worker no longer held the delivery's claim: given back at a stop's deadline, or taken over by another
   *  sender after its lease ran out; either noted this attempt as interrupted, and the delivery is due again. */
  claimLost: boolean;
  erasedMeanwhile: boolean;
  /** Seconds the endpoint has been failing, after a failed attempt. */
  failingFor: number | null;
}

const isDeadlock = (err: unknown) => (err as { code?: unknown }).code === '40P01';

/** Records finished attempts in one transaction; attempts whose message an erasure holds are recorded alone after. */
async function recordBatch(ctx: Ctx, workerId: string, batch: Finished[], waitForMessages: boolean): Promise<Recorded[]> {
  const results = new Map<Finished, Recorded>();
  const alone: Finished[] = [];
  await ctx.db.transaction(async (tx) => {
    const { fingerprints, busyMessages, claimLost } = await lockDeliveriesForRecord(
      tx,
      workerId,
      batch.map((f) => f.delivery),
      { waitForMessages },
    );
    const kept: AttemptRecord[] = [];
    // Per endpoint, the last outcome in the batch decides its failure clock, as if recorded one by one.
    const endpointOutcome = new Map<string, boolean>();
    for (const f of batch) {
      const now = fingerprints.get(f.delivery.id);
      if (now === undefined) {
        // An attempt whose claim is lost is not recorded and moves nothing, its endpoint's failure clock included:
        // a stop (or a sender that stalled past its lease), not the receiver, cut it off, and a late answer must
        // neither start the clock of a healthy endpoint nor stop that of a failing one (its 410 is met again).
        if (claimLost.has(f.delivery.id)) results.set(f, { recorded: false, claimLost: true, erasedMeanwhile: false, failingFor: null });
        else if (busyMessages.has(f.delivery.messageId)) alone.push(f);
        else results.set(f, { recorded: false, claimLost: false, erasedMeanwhile: false, failingFor: null });
        continue;
      }
      // A receiver's answer can quote what it was sent. If the message was erased (a customer erasure rewrote
      // its data) while the request was out, the answer may quote the erased values, which the erasure could
      // not see yet: the excerpt is dropped. Works across instances: the fingerprint is compared under the lock.
      const erasedMeanwhile = now !== f.fingerprint;
      kept.push(erasedMeanwhile ? { ...f.attempt, responseExcerpt: null } : f.attempt);
      if (f.attempt.outcome !== 'gone') endpointOutcome.set(f.delivery.endpointId, f.attempt.outcome === 'succeeded');
      results.set(f, { recorded: true, claimLost: false, erasedMeanwhile, failingFor: null });
    }
    if (kept.length === 0) return;
    const endpoints = [...endpointOutcome];
    const failingFor = await recordAttempts(tx, workerId, kept, {
      succeeded: endpoints.filter(([, ok]) => ok).map(([id]) => id),
      failing: endpoints.filter(([, ok]) => !ok).map(([id]) => id),
    });
    for (const [f, r] of results) {
      if (r.recorded && f.attempt.outcome !== 'succeeded' && f.attempt.outcome !== 'gone') {
        r.failingFor = failingFor.get(f.delivery.endpointId) ?? null;
      }
    }
  });
  for (const f of alone) results.set(f, (await recordBatch(ctx, workerId, [f], true))[0]!);
  return batch.map((f) => results.get(f)!);
}

function attemptRecorder(ctx: Ctx, workerId: string) {
  return coalesce<Finished, Recorded>(
    async (batch) => {
      try {
        return await recordBatch(ctx, workerId, batch, batch.length === 1);
      } catch (err) {
        // Not expected (locks are taken in a fixed order and busy messages skipped), but a deadlock must not
        // lose a batch: each attempt is then recorded alone.
        if (!isDeadlock(err) || batch.length === 1) throw err;
        const one: Recorded[] = [];
        for (const f of batch) one.push((await recordBatch(ctx, workerId, [f], true))[0]!);
        return one;
      }
    },
    { maxBatch: MAX_BATCH, serial: true },
  );
}

// The deliveries of a process whose request has ended (answered, failed or timed out) and whose attempt is being
// recorded. The database counts them as in flight until the record commits, but their receiver is no longer
// working on them: the claim leaves them out of the endpoint's in-flight count (claim-deliveries.ts), so that
// SLUICE_ENDPOINT_CONCURRENCY bounds the requests a receiver has open, not Sluice's own bookkeeping (which took more
// than half of a slot's time under load: loading the parts, then recording in a shared transaction).
const sentNotRecorded = new WeakMap<Ctx, Set<string>>();

function sentSet(ctx: Ctx): Set<string> {
  let s = sentNotRecorded.get(ctx);
  if (!s) sentNotRecorded.set(ctx, (s = new Set()));
  return s;
}

/** The ids of this process's deliveries whose request has ended and whose attempt is not yet recorded. */
export function deliveriesBeingRecorded(ctx: Ctx): string[] {
  return [...(sentNotRecorded.get(ctx) ?? [])];
}

// One loader per context and one recorder per worker, shared by that worker's concurrent attempts.
const loaders = new WeakMap<Ctx, ReturnType<typeof partsLoader>>();
const recorders = new WeakMap<Ctx, Map<string, ReturnType<typeof attemptRecorder>>>();

function loaderFor(ctx: Ctx) {
  let l = loaders.get(ctx);
  if (!l) loaders.set(ctx, (l = partsLoader(ctx)));
  return l;
}

function recorderFor(ctx: Ctx, workerId: string) {
  let byWorker = recorders.get(ctx);
  if (!byWorker) recorders.set(ctx, (byWorker = new Map()));
  let r = byWorker.get(workerId);
  if (!r) byWorker.set(workerId, (r = attemptRecorder(ctx, workerId)));
  return r;
}

/** `requestEnded` is called once the delivery no longer holds a slot of its endpoint (its request has ended, or it
 *  was never sent), before its attempt is recorded. */
export async function attemptDelivery(
  ctx: Ctx,
  sender: Sender,
  workerId: string,
  d: ClaimedDelivery,
  requestEnded: () => void = () => undefined,
): Promise<AttemptOutcome> {
  const parts = await loaderFor(ctx)(d);
  if (!parts) return 'skipped'; // deleted since the claim; its deliveries went with it
  const { endpoint, message } = parts;
  if (endpoint.state !== 'enabled') {
    // Paused or disabled between the claim and now: give the delivery back untouched; it waits for enabling.
    await releaseDeliveryClaims(ctx.db, workerId, [d.id]);
    return 'skipped';
  }
  const now = ctx.now();
  const startedAt = new Date(now);
  let result: SendResult;
  let headerValues: string[] = [];
  try {
    const sealed = openEndpointToSend(ctx, endpoint);
    headerValues = Object.values(sealed.headers);
    const request =
      endpoint.kind === 'forward'
        ? await pianoForwardRequest(ctx, endpoint.url, message)
        : signedRequest(endpoint.url, message, sealed, now);
    result = request
      ? await sender.send(request.url, { ...sealed.headers, 'user-agent': USER_AGENT, ...request.headers }, request.body, request.method)
      : { answered: false, durationMs: 0, error: 'the Piano event to forward is no longer stored', blocked: false };
  } catch (err) {
    // A delivery that cannot even be prepared (e.g. its secret sealed under another master key) is a failed
    // attempt like any other: it follows the schedule and ends `failed`, visible, instead of looping unseen.
    if (err instanceof StoreUnavailableError) throw err;
    result = { answered: false, durationMs: 0, error: `could not prepare the delivery: ${(err as Error).message}`, blocked: false };
  }

  const ok = result.answered && result.status >= 200 && result.status < 300;
  const gone = result.answered && result.status === 410;
  const retryAfter = result.answered ? parseRetryAfter(result.retryAfter, ctx.now()) : null;
  const retryIn = ok || gone ? null : nextAttemptDelay(ctx.config.retrySchedule, d.attempts, retryAfter);
  const outcome = ok ? 'succeeded' : gone ? 'gone' : retryIn === null ? 'failed' : 'retry';
  const error = result.answered ? (ok ? null : `HTTP ${result.status}`) : result.error;

  const sent = sentSet(ctx);
  sent.add(d.id);
  requestEnded();
  let recorded: Recorded;
  try {
    recorded = await recorderFor(
      ctx,
      workerId,
    )({
      delivery: d,
      fingerprint: message.fingerprint,
      attempt: {
        id: newId('att', now),
        deliveryId: d.id,
        endpointId: endpoint.id,
        startedAt,
        durationMs: result.durationMs,
        statusCode: result.answered ? result.status : null,
        responseExcerpt: result.answered ? withoutHeaderValues(result.excerpt, headerValues) : null,
        error,
        outcome,
        retryInSeconds: retryIn,
      },
    });
  } finally {
    sent.delete(d.id);
  }
  if (recorded.claimLost) {
    ctx.log.debug(
      { deliveryId: d.id, endpointId: endpoint.id, outcome },
      'delivery given back (a stop, or its lease ran out) before its attempt was recorded; noted as interrupted, late answer not recorded',
    );
    return 'skipped';
  }
  if (!recorded.recorded) {
    // The workspace, endpoint or message was deleted while the request was out: its history went with it, so
    // there is nothing to record the answer against. Expected, hence not an error.
    ctx.log.debug({ deliveryId: d.id, endpointId: endpoint.id, outcome }, 'delivery deleted while in flight; attempt not recorded');
    return 'skipped';
  }
  if (recorded.erasedMeanwhile) ctx.log.info({ deliveryId: d.id }, 'message erased while in flight; the answer excerpt is not kept');
  if (gone) await removeGoneEndpoint(ctx, endpoint);
  else if (!ok && recorded.failingFor !== null && recorded.failingFor >= ctx.config.endpointDisableAfterSeconds) {
    await disableFailingEndpoint(ctx, endpoint, recorded.failingFor, error);
  }
  ctx.metrics.deliveryAttempts.inc({ outcome });
  ctx.metrics.deliveryDuration.observe({ outcome }, result.durationMs / 1000);
  return outcome;
}

/**
 * After a 410 was recorded: a REST Hooks subscription is removed, any other endpoint disabled. A crash before
 * this runs leaves the endpoint enabled; its next delivery meets the 410 again and comes back here.
 */
async function removeGoneEndpoint(ctx: Ctx, sent: EndpointRow): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const endpoint = await findEndpoint(tx, sent.workspace_id, sent.id, true);
    if (!endpoint || endpoint.state === 'disabled') return;
    if (endpoint.kind === 'hook') await deleteEndpoint(tx, endpoint.workspace_id, endpoint.id);
    else await updateEndpoint(tx, endpoint.id, { state: 'disabled', disabledReason: 'the receiver answered 410 Gone' });
    ctx.log.warn({ endpointId: endpoint.id, kind: endpoint.kind }, 'receiver answered 410: endpoint removed from delivery');
  });
}

/**
 * After a failed attempt was recorded on an endpoint failing for longer than allowed: disabled, with an incident
 * and its message, once (the endpoint is re-read under its lock: another attempt may have disabled it, a success
 * stopped its failure clock, or the user paused it meanwhile).
 */
async function disableFailingEndpoint(ctx: Ctx, sent: EndpointRow, failingFor: number, error: string | null): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const endpoint = await findEndpoint(tx, sent.workspace_id, sent.id, true);
    if (!endpoint || endpoint.state !== 'enabled' || !endpoint.failing_since) return;
    const days = Math.round((failingFor / 86400) * 10) / 10;
    const during = durationText(failingFor);
    // The URL's origin only: the incident goes out as incident.opened to every subscriber (REST Hooks of third
    // parties too), and receiver URLs are often capabilities, with their secret in the path or the query.
    const where = urlOrigin(endpoint.url);
    const detail = `Endpoint ${endpoint.description ?? endpoint.id} (${where}) failed every delivery for ${during} (last: ${error ?? 'no answer'}); disabled`;
    await updateEndpoint(tx, endpoint.id, { state: 'disabled', disabledReason: `failing for ${during}` });
    await raiseIncident(ctx, tx, {
      workspaceId: endpoint.workspace_id,
      kind: 'endpoint_disabled',
      severity: 'critical',
      provider: 'outbound',
      subject: endpoint.id,
      endpointId: endpoint.id,
      title: detail,
      details: { origin: where, failingForDays: days, lastError: error },
    });
    ctx.log.error({ endpointId: endpoint.id, days }, 'endpoint disabled after failing too long');
  });
}

/** The scheme, host and port of a URL: where it points, without the path or query that may hold a token. */
function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an unreadable URL';
  }
}

/** "5 days", "2.5 hours", "40 minutes": a failure window in the unit a person reads it in. */
function durationText(seconds: number): string {
  if (seconds >= 86_400) return `${Math.round((seconds / 86_400) * 10) / 10} days`;
  if (seconds >= 3_600) return `${Math.round((seconds / 3_600) * 10) / 10} hours`;
  const minutes = Math.max(1, Math.round(seconds / 60));
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/**
 * The answer's excerpt without the endpoint's custom header values, which are write-only (shown to nobody once saved)
 * and often credentials: a receiver that echoes its request (httpbin, a debug endpoint, some error pages) would
 * otherwise hand them to anyone who may read deliveries, viewers included. Values under 8 characters are left: too
 * short to be a credential, and common enough to blank out unrelated text.
 */
function withoutHeaderValues(excerpt: string, values: readonly string[]): string {
  let out = excerpt;
  for (const v of values) {
    if (v.length < 8) continue;
    // As sent, and as a JSON echo writes it (a quote or backslash escaped), which is how echoing receivers answer.
    const forms = [...new Set([v, JSON.stringify(v).slice(1, -1)])];
    for (const form of forms) out = out.split(form).join('[header value]');
    // The excerpt is the answer's first 4 KiB: a cut inside an echoed value leaves its beginning at the very end,
    // unrecognised as a whole value (a cut inside a character leaves U+FFFD after it).
    const tail = out.replace(/\uFFFD$/, '');
    const cut = Math.max(0, ...forms.map((form) => cutPrefixLength(tail, form)));
    if (cut > 0) out = `${tail.slice(0, tail.length - cut)}[header value]`;
  }
  return out;
}

/** How many characters at the end of `text` are the beginning of `value` (MIN_CUT_PREFIX or more), else 0. */
function cutPrefixLength(text: string, value: string): number {
  for (let k = Math.min(value.length - 1, text.length); k >= MIN_CUT_PREFIX; k--) if (text.endsWith(value.slice(0, k))) return k;
  return 0;
}

/** The shortest beginning of a value at the cut taken for the value itself (shorter ones say nothing worth hiding). */
const MIN_CUT_PREFIX = 4;
