// GET|POST /webhooks/piano/:workspaceId. Piano sends one webhook at a time and holds its whole queue while an
// endpoint answers non-200, so: 200 as soon as the event is stored (unknown types and `test` too), 400 when
// the data is not genuine or not ours (a wrong key must be noticed, not silently dropped), 503 when it cannot
// be stored. Piano events carry no id: the dedupe key is a hash of the decrypted JSON text, not of the `data`
// string, because several spellings of `data` (padding, base64 alphabet, a trailing "=" on the MAC) verify and
// decrypt to the same message; a replay in another spelling must still be a duplicate.
import { createHash } from 'node:crypto';
import type { ConnectionRow } from '../../db/queries/connections.js';
import { ProviderNotConnectedError, WorkspaceNotFoundError } from '../../errors.js';
import { serialKeysOf } from '../../db/queries/event-serial-keys.js';
import { newId } from '../../lib/ids.js';
import { normalizePianoData } from '../../inbound/piano/crypto.js';
import { pianoEventTime } from '../../inbound/piano/parse.js';
import { verifyPianoWebhook, type PianoEvent, type PianoVerifyReason } from '../../inbound/piano/verify.js';
import { isPlainJsonText, storableText, textProblem } from '../../inbound/storable-payload.js';
import { storeInboundEvent } from './store-inbound-event.js';
import type { Ctx } from '../context.js';
import { countUnreadable, rejectWebhook } from './reject-webhook.js';
import { openPianoSecrets, pianoSettings, type PianoSecrets, type PianoSettings } from '../connections/piano-connection.js';
import type { InboundSource } from './inbound-cache.js';
import { eventBatcher, inboundCache } from './inbound-runtime.js';

export interface PianoIngestInput {
  workspaceId: string;
  method: 'GET' | 'POST';
  data: string | undefined;
}

type Check =
  | { ok: true; source: InboundSource; event: PianoEvent; settings: PianoSettings }
  | { ok: false; source: undefined; why: 'unknown_workspace' }
  | { ok: false; source: InboundSource; why: 'not_connected' }
  | { ok: false; source: InboundSource; why: 'secret_unreadable'; error: unknown }
  | { ok: false; source: InboundSource; why: 'signature'; reason: PianoVerifyReason };

function check(source: InboundSource | undefined, input: PianoIngestInput): Check {
  if (!source) return { ok: false, source, why: 'unknown_workspace' };
  if (!source.connection || !source.secrets) return { ok: false, source, why: 'not_connected' };
  if (!source.secrets.ok) return { ok: false, source, why: 'secret_unreadable', error: source.secrets.error };
  const { privateKey } = source.secrets.value as PianoSecrets;
  const settings = pianoSettings(source.connection);
  const verdict = verifyPianoWebhook({ data: input.data, privateKey, aid: settings.aid, requireHmac: settings.requireHmac });
  return verdict.ok
    ? { ok: true, source, event: verdict.event, settings }
    : { ok: false, source, why: 'signature', reason: verdict.reason };
}

/** As for Stripe: a refusal based on cached settings that newer ones could turn around is checked again against
 *  a fresh read (a key just changed on another instance). Missing or malformed `data` no key can fix. */
async function verified(ctx: Ctx, input: PianoIngestInput): Promise<Extract<Check, { ok: true }>> {
  const cache = inboundCache(ctx);
  const open = (connection: ConnectionRow) => openPianoSecrets(ctx, connection);
  const found = await cache.lookup(ctx, input.workspaceId, 'piano', open);
  let result = check(found.source, input);
  if (!result.ok && found.cached && (result.why !== 'signature' || !['missing_data', 'malformed_data'].includes(result.reason))) {
    result = check((await cache.lookup(ctx, input.workspaceId, 'piano', open, true)).source, input);
  }
  if (result.ok) return result;
  switch (result.why) {
    case 'unknown_workspace':
      ctx.metrics.inboundRejections.inc({ provider: 'piano', reason: 'unknown_workspace' });
      throw new WorkspaceNotFoundError(input.workspaceId);
    case 'not_connected':
      ctx.metrics.inboundRejections.inc({ provider: 'piano', reason: 'not_connected' });
      throw new ProviderNotConnectedError('piano');
    case 'secret_unreadable':
      return countUnreadable(ctx, 'piano', () => {
        throw result.error;
      });
    case 'signature':
      return rejectWebhook(ctx, 'piano', input.workspaceId, result.reason);
  }
}

export async function ingestPianoEvent(ctx: Ctx, input: PianoIngestInput): Promise<{ duplicate: boolean; eventId: string }> {
  // An id no database text can hold (a NUL) names no workspace; asking PostgreSQL would only raise an error.
  if (textProblem(input.workspaceId)) {
    ctx.metrics.inboundRejections.inc({ provider: 'piano', reason: 'unknown_workspace' });
    throw new WorkspaceNotFoundError(input.workspaceId);
  }
  const { event, settings } = await verified(ctx, input);

  const data = normalizePianoData(input.data!);
  const providerEventId = `sha256:${createHash('sha256').update(event.plaintext, 'utf8').digest('hex')}`;
  const time = pianoEventTime(event.payload);
  const timeValid = time === null || !Number.isNaN(time.getTime());
  const common = {
    id: newId('ev', ctx.now()),
    workspaceId: input.workspaceId,
    provider: 'piano',
    providerEventId,
    type: storableText(event.type),
    livemode: settings.region === 'sandbox' ? false : null,
    providerCreatedAt: timeValid ? time : null,
    status: 'received' as const,
    error: null,
    inboundMethod: input.method,
  };
  if (timeValid && textProblem(data) === undefined && isPlainJsonText(event.plaintext)) {
    // The decrypted text is the payload: PostgreSQL parses it, nothing is re-serialised here.
    const isNew = await eventBatcher(ctx).add({
      ...common,
      rawBody: Buffer.from(data, 'utf8'),
      payloadText: event.plaintext,
      serialKeys: serialKeysOf(input.workspaceId, event.payload),
    });
    return { duplicate: !isNew, eventId: providerEventId };
  }

  const { stored, failed } = await storeInboundEvent(
    ctx,
    {
      ...common,
      payload: event.payload,
      raw: data,
      unstorable: timeValid ? undefined : "the event's timestamp is not a unix time that can be stored",
    },
    data,
  );
  if (!stored) return { duplicate: true, eventId: providerEventId };
  ctx.metrics.eventsStored.inc({ provider: 'piano' });
  if (!failed) ctx.onEventStored();
  return { duplicate: false, eventId: providerEventId };
}
