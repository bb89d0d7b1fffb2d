// GET|POST /webhooks/piano/:workspaceId. Piano sends one webhook at a time and holds its whole queue while an
// endpoint answers non-200, so: 200 as soon as the event is stored (unknown types and `test` too), 400 when
// the data is not genuine or not ours (a wrong key must be noticed, not silently dropped), 503 when it cannot
// be stored. Piano events carry no id: the dedupe key is a hash of the `data` string (ECB is deterministic,
// and a retry resends the same string).
import { createHash } from 'node:crypto';
import { findWorkspaceWithConnection } from '../../db/queries/connections.js';
import { insertEvent } from '../../db/queries/events.js';
import { ProviderNotConnectedError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { normalizePianoData } from '../../inbound/piano/crypto.js';
import { pianoEventTime } from '../../inbound/piano/parse.js';
import { verifyPianoWebhook } from '../../inbound/piano/verify.js';
import type { Ctx } from '../context.js';
import { rejectWebhook } from './reject-webhook.js';
import { openPianoSecrets, pianoSettings } from '../connections/piano-connection.js';

export interface PianoIngestInput {
  workspaceId: string;
  method: 'GET' | 'POST';
  data: string | undefined;
}

export async function ingestPianoEvent(ctx: Ctx, input: PianoIngestInput): Promise<{ duplicate: boolean; eventId: string }> {
  const found = await findWorkspaceWithConnection(ctx.db, input.workspaceId, 'piano');
  if (!found) {
    ctx.metrics.inboundRejections.inc({ provider: 'piano', reason: 'unknown_workspace' });
    throw new WorkspaceNotFoundError(input.workspaceId);
  }
  if (!found.connection) {
    ctx.metrics.inboundRejections.inc({ provider: 'piano', reason: 'not_connected' });
    throw new ProviderNotConnectedError('piano');
  }
  const settings = pianoSettings(found.connection);
  const { privateKey } = openPianoSecrets(ctx, found.connection);
  const verdict = verifyPianoWebhook({ data: input.data, privateKey, aid: settings.aid, requireHmac: settings.requireHmac });
  if (!verdict.ok) return rejectWebhook(ctx, 'piano', input.workspaceId, verdict.reason);

  const data = normalizePianoData(input.data!);
  const providerEventId = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const stored = await insertEvent(ctx.db, {
    id: newId('ev', ctx.now()),
    workspaceId: input.workspaceId,
    provider: 'piano',
    providerEventId,
    type: verdict.event.type,
    livemode: settings.region === 'sandbox' ? false : null,
    providerCreatedAt: pianoEventTime(verdict.event.payload),
    payload: verdict.event.payload,
    rawBody: data,
    status: 'received',
    error: null,
    inboundMethod: input.method,
  });
  if (!stored) return { duplicate: true, eventId: providerEventId };
  ctx.metrics.eventsStored.inc({ provider: 'piano' });
  ctx.onEventStored();
  return { duplicate: false, eventId: providerEventId };
}
