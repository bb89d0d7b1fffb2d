// One attempt of one claimed delivery: sign with Standard Webhooks headers, POST, record the attempt, and move
// the delivery on (done, retry on the schedule with jitter and Retry-After, or failed). A 410 disables the
// endpoint, or removes it when it is a REST Hooks subscription. An endpoint failing without a success for
// SLUICE_ENDPOINT_DISABLE_AFTER_SECONDS (5 days) is disabled, with an incident and an incident.opened message.
import { lockDeliveryForRecord, recordAttempt, releaseDeliveryClaims, type ClaimedDelivery } from '../../db/queries/deliveries.js';
import {
  deleteEndpoint,
  findEndpointById,
  recordEndpointFailure,
  recordEndpointSuccess,
  updateEndpoint,
} from '../../db/queries/endpoints.js';
import { openIncident } from '../../db/queries/incidents.js';
import { findRawEvent } from '../../db/queries/events.js';
import { findMessage, publishMessage, type MessageRow } from '../../db/queries/messages.js';
import { newId } from '../../lib/ids.js';
import { nextAttemptDelay, parseRetryAfter } from '../../outbound/backoff.js';
import type { Sender, SendResult } from '../../outbound/send.js';
import { StoreUnavailableError } from '../../errors.js';
import { signatureHeader } from '../../outbound/sign.js';
import type { Ctx } from '../context.js';
import { openEndpoint, signingSecrets, type SealedEndpoint } from './endpoint-view.js';
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
function signedRequest(url: string, message: MessageRow, sealed: SealedEndpoint, now: number): OutboundRequest {
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

/** A Piano webhook as Piano sent it: the same method and the same `data` string, for the destination to decrypt. */
async function pianoForwardRequest(ctx: Ctx, url: string, message: MessageRow): Promise<OutboundRequest | undefined> {
  if (message.source_provider !== 'piano' || !message.source_event_id) return undefined;
  const raw = await findRawEvent(ctx.db, message.workspace_id, 'piano', message.source_event_id);
  if (!raw) return undefined;
  const data = `data=${encodeURIComponent(raw.rawBody)}`;
  return raw.inboundMethod === 'GET'
    ? { url: `${url}${url.includes('?') ? '&' : '?'}${data}`, method: 'GET', headers: {}, body: '' }
    : { url, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: data };
}

export async function attemptDelivery(ctx: Ctx, sender: Sender, workerId: string, d: ClaimedDelivery): Promise<AttemptOutcome> {
  const [endpoint, message] = await Promise.all([findEndpointById(ctx.db, d.endpointId), findMessage(ctx.db, d.workspaceId, d.messageId)]);
  if (!endpoint || !message) return 'skipped'; // deleted since the claim; its deliveries went with it
  if (endpoint.state !== 'enabled') {
    // Paused or disabled between the claim and now: give the delivery back untouched; it waits for enabling.
    await releaseDeliveryClaims(ctx.db, workerId, [d.id]);
    return 'skipped';
  }
  const now = ctx.now();
  const startedAt = new Date(now);
  let result: SendResult;
  try {
    const sealed = openEndpoint(ctx, endpoint);
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

  const recorded = await ctx.db.transaction(async (tx) => {
    const locked = await lockDeliveryForRecord(tx, {
      id: d.id,
      workspaceId: d.workspaceId,
      endpointId: endpoint.id,
      messageId: message.id,
    });
    if (!locked) return false;
    // A receiver's answer can quote what it was sent. If the message was erased (a customer erasure rewrote its
    // data) while the request was out, the answer may quote the erased values, which the erasure could not see
    // yet: the excerpt is dropped. Works across instances, as the fingerprint is compared under the row lock.
    const erasedMeanwhile = locked.messageFingerprint !== message.fingerprint;
    if (erasedMeanwhile) ctx.log.info({ deliveryId: d.id }, 'message erased while in flight; the answer excerpt is not kept');
    await recordAttempt(
      tx,
      workerId,
      {
        id: newId('att', now),
        deliveryId: d.id,
        endpointId: endpoint.id,
        startedAt,
        durationMs: result.durationMs,
        statusCode: result.answered ? result.status : null,
        responseExcerpt: result.answered && !erasedMeanwhile ? result.excerpt : null,
        error,
        outcome,
      },
      retryIn,
    );
    if (ok) {
      await recordEndpointSuccess(tx, endpoint.id);
      return true;
    }
    if (gone) {
      if (endpoint.kind === 'hook') await deleteEndpoint(tx, endpoint.workspace_id, endpoint.id);
      else await updateEndpoint(tx, endpoint.id, { state: 'disabled', disabledReason: 'the receiver answered 410 Gone' });
      ctx.log.warn({ endpointId: endpoint.id, kind: endpoint.kind }, 'receiver answered 410: endpoint removed from delivery');
      return true;
    }
    const failingFor = await recordEndpointFailure(tx, endpoint.id);
    if (failingFor >= ctx.config.endpointDisableAfterSeconds) {
      const days = Math.round((failingFor / 86400) * 10) / 10;
      const detail = `${endpoint.url} failed every delivery for ${days} days (last: ${error ?? 'no answer'}); disabled`;
      await updateEndpoint(tx, endpoint.id, { state: 'disabled', disabledReason: `failing for ${days} days` });
      const incident = await openIncident(tx, {
        id: newId('inc', now),
        workspaceId: endpoint.workspace_id,
        endpointId: endpoint.id,
        kind: 'endpoint.disabled',
        detail,
      });
      await publishMessage(tx, {
        id: newId('msg', now),
        workspaceId: endpoint.workspace_id,
        type: 'incident.opened',
        data: {
          incident: { id: incident.id, kind: incident.kind, endpointId: endpoint.id, detail, openedAt: incident.opened_at.toISOString() },
        },
        sourceProvider: null,
        sourceEventId: null,
        dedupeKey: `incident.opened:${incident.id}`,
        firstAttemptDelaySeconds: ctx.config.retrySchedule[0] ?? 0,
      });
      ctx.log.error({ endpointId: endpoint.id, days }, 'endpoint disabled after failing too long');
    }
    return true;
  });
  if (!recorded) {
    // The workspace, endpoint or message was deleted while the request was out: its history went with it, so
    // there is nothing to record the answer against. Expected, hence not an error.
    ctx.log.debug({ deliveryId: d.id, endpointId: endpoint.id, outcome }, 'delivery deleted while in flight; attempt not recorded');
    return 'skipped';
  }
  ctx.metrics.deliveryAttempts.inc({ outcome });
  ctx.metrics.deliveryDuration.observe({ outcome }, result.durationMs / 1000);
  return outcome;
}
