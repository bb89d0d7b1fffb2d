// GET|POST /webhooks/piano/:workspaceId. Piano sends one webhook at a time and holds its whole queue while an
// endpoint answers non-200, so: 200 as soon as the event is stored (unknown types and `test` too), 400 when
// the data is not genuine or not ours (a wrong key must be noticed, not silently dropped), 503 when it cannot
// be stored. Piano events carry no id: the dedupe key is a hash of the decrypted JSON text, not of the `data`
// string, because several spellings of `data` (padding, base64 alphabet, a trailing "=" on the MAC) verify and
// decrypt to the same message; a replay in another spelling must still be a duplicate.
import { createHash } from 'node:crypto';
import { findWorkspaceWithConnection } from '../../db/queries/connections.js';
import { ProviderNotConnectedError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { normalizePianoData } from '../../inbound/piano/crypto.js';
import { pianoEventTime } from '../../inbound/piano/parse.js';
import { verifyPianoWebhook } from '../../inbound/piano/verify.js';
import { storableText, textProblem } from '../../inbound/storable-payload.js';
import { storeInboundEvent } from './store-inbound-event.js';
import type { Ctx } from '../context.js';
import { countUnreadable, rejectWebhook } from './reject-webhook.js';
import { openPianoSecrets, pianoSettings } from '../connections/piano-connection.js';

export interface PianoIngestInput {
  workspaceId: string;
  method: 'GET' | 'POST';
  data: string | undefined;
}

export async function ingestPianoEvent(ctx: Ctx, input: PianoIngestInput): Promise<{ duplicate: boolean; eventId: string }> {
  // An id no database text can hold (a NUL) names no workspace; asking PostgreSQL would only raise an error.
  const found = textProblem(input.workspaceId) ? undefined : await findWorkspaceWithConnection(ctx.db, input.workspaceId, 'piano');
  if (!found) {
    ctx.metrics.inboundRejections.inc({ provider: 'piano', reason: 'unknown_workspace' });
    throw new WorkspaceNotFoundError(input.workspaceId);
  }
  if (!found.connection) {
    ctx.metrics.inboundRejections.inc({ provider: 'piano', reason: 'not_connected' });
    throw new ProviderNotConnectedError('piano');
  }
  const settings = pianoSettings(found.connection);
  const { privateKey } = countUnreadable(ctx, 'piano', () => openPianoSecrets(ctx, found.connection!));
  const verdict = verifyPianoWebhook({ data: input.data, privateKey, aid: settings.aid, requireHmac: settings.requireHmac });
  if (!verdict.ok) return rejectWebhook(ctx, 'piano', input.workspaceId, verdict.reason);

  const data = normalizePianoData(input.data!);
  const providerEventId = `sha256:${createHash('sha256').update(verdict.event.plaintext, 'utf8').digest('hex')}`;
  const time = pianoEventTime(verdict.event.payload);
  const timeValid = time === null || !Number.isNaN(time.getTime());
  const { stored, failed } = await storeInboundEvent(
    ctx,
    {
      id: newId('ev', ctx.now()),
      workspaceId: input.workspaceId,
      provider: 'piano',
      providerEventId,
      type: storableText(verdict.event.type),
      livemode: settings.region === 'sandbox' ? false : null,
      providerCreatedAt: timeValid ? time : null,
      payload: verdict.event.payload,
      raw: data,
      unstorable: timeValid ? undefined : "the event's timestamp is not a unix time that can be stored",
      status: 'received',
      error: null,
      inboundMethod: input.method,
    },
    data,
  );
  if (!stored) return { duplicate: true, eventId: providerEventId };
  ctx.metrics.eventsStored.inc({ provider: 'piano' });
  if (!failed) ctx.onEventStored();
  return { duplicate: false, eventId: providerEventId };
}
