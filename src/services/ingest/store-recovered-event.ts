// Events a reconciliation scan found at the provider that never arrived as webhooks, stored through the same last
// step of ingest as a delivered one (the same dedupe key, so a webhook arriving later is a duplicate, and a
// webhook already stored makes this a no-op), marked `recovered`. Also the scan's own repairs: events made up from
// an object as the provider's API answers it now (see inbound/synthetic-event.ts).
import { createHash } from 'node:crypto';
import type { ConnectionRow } from '../../db/queries/connections.js';
import { normalizePianoData } from '../../inbound/piano/crypto.js';
import { pianoEventTime } from '../../inbound/piano/parse.js';
import { verifyPianoWebhook } from '../../inbound/piano/verify.js';
import { storableText, storableTime } from '../../inbound/storable-payload.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { stripeMode } from '../connections/stripe-connection.js';
import { ignoredMode } from './ingest-stripe-event.js';
import { storeInboundEvent } from './store-inbound-event.js';

type Obj = Record<string, unknown>;

/** A Stripe event object as `GET /v1/events` (or a scan's repair) gives it; false when it was already stored. */
export async function storeRecoveredStripeEvent(
  ctx: Ctx,
  input: { workspaceId: string; demo: boolean; connection: ConnectionRow; event: Obj },
): Promise<boolean> {
  const event = input.event;
  const livemode = typeof event.livemode === 'boolean' ? event.livemode : null;
  const ignored = ignoredMode(input.demo, stripeMode(input.connection), livemode);
  const raw = JSON.stringify(event);
  const { stored, failed } = await storeInboundEvent(
    ctx,
    {
      id: newId('ev', ctx.now()),
      workspaceId: input.workspaceId,
      provider: 'stripe',
      providerEventId: storableText(String(event.id)),
      type: storableText(String(event.type)),
      livemode,
      providerCreatedAt: (typeof event.created === 'number' ? storableTime(event.created) : undefined) ?? null,
      payload: event,
      raw,
      status: ignored ? 'ignored' : 'received',
      error: ignored ?? null,
      recovered: true,
    },
    raw,
  );
  if (stored) {
    ctx.metrics.eventsStored.inc({ provider: 'stripe' });
    if (!ignored && !failed) ctx.onEventStored();
  }
  return stored;
}

export type RecoveredPiano = { ok: true; stored: boolean; providerEventId: string } | { ok: false; reason: string };

/**
 * A Piano webhook's `data` (as Piano's webhook list kept it), verified and decrypted with the workspace's key
 * exactly as a delivered one, under the same dedupe key (the hash of its decrypted text).
 */
export async function storeRecoveredPianoEvent(
  ctx: Ctx,
  input: { workspaceId: string; privateKey: string; aid: string; requireHmac: boolean; region: string; data: string },
): Promise<RecoveredPiano> {
  const verdict = verifyPianoWebhook({ data: input.data, privateKey: input.privateKey, aid: input.aid, requireHmac: input.requireHmac });
  if (!verdict.ok) return { ok: false, reason: verdict.reason };
  const { event } = verdict;
  const providerEventId = `sha256:${createHash('sha256').update(event.plaintext, 'utf8').digest('hex')}`;
  const time = pianoEventTime(event.payload);
  const data = normalizePianoData(input.data);
  const { stored, failed } = await storeInboundEvent(
    ctx,
    {
      id: newId('ev', ctx.now()),
      workspaceId: input.workspaceId,
      provider: 'piano',
      providerEventId,
      type: storableText(event.type),
      livemode: input.region === 'sandbox' ? false : null,
      providerCreatedAt: time && !Number.isNaN(time.getTime()) ? time : null,
      payload: event.payload,
      raw: data,
      status: 'received',
      error: null,
      inboundMethod: 'GET',
      recovered: true,
    },
    data,
  );
  if (stored) {
    ctx.metrics.eventsStored.inc({ provider: 'piano' });
    if (!failed) ctx.onEventStored();
  }
  return { ok: true, stored, providerEventId };
}

/** A scan's repair for Piano: a made-up event (see inbound/synthetic-event.ts) with the API's state. */
export async function storeSyntheticPianoEvent(
  ctx: Ctx,
  input: { workspaceId: string; providerEventId: string; payload: Obj; region: string },
): Promise<boolean> {
  const raw = JSON.stringify(input.payload);
  const { stored, failed } = await storeInboundEvent(
    ctx,
    {
      id: newId('ev', ctx.now()),
      workspaceId: input.workspaceId,
      provider: 'piano',
      providerEventId: input.providerEventId,
      type: String(input.payload.type),
      livemode: input.region === 'sandbox' ? false : null,
      providerCreatedAt: pianoEventTime(input.payload),
      payload: input.payload,
      raw,
      status: 'received',
      error: null,
      recovered: true,
    },
    raw,
  );
  if (stored && !failed) ctx.onEventStored();
  return stored;
}
