// POST /webhooks/stripe/:workspaceId. The answer is 200 only once the event row is committed; a duplicate
// event id is acknowledged without a second row or a second processing.
import { findWorkspaceWithConnection } from '../../db/queries/connections.js';
import { insertEvent } from '../../db/queries/events.js';
import { ProviderNotConnectedError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { parseStripeEvent } from '../../inbound/stripe/parse.js';
import { verifyStripeSignature } from '../../inbound/stripe/verify.js';
import type { Ctx } from '../context.js';
import { rejectWebhook } from './reject-webhook.js';
import { openStripeSecrets } from '../connections/stripe-connection.js';

export interface IngestInput {
  workspaceId: string;
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

export interface IngestResult {
  duplicate: boolean;
  eventId: string;
}

export async function ingestStripeEvent(ctx: Ctx, input: IngestInput): Promise<IngestResult> {
  const found = await findWorkspaceWithConnection(ctx.db, input.workspaceId, 'stripe');
  if (!found) {
    ctx.metrics.inboundRejections.inc({ provider: 'stripe', reason: 'unknown_workspace' });
    throw new WorkspaceNotFoundError(input.workspaceId);
  }
  const secrets = found.connection ? openStripeSecrets(ctx, found.connection).webhookSecrets : [];
  if (secrets.length === 0) {
    ctx.metrics.inboundRejections.inc({ provider: 'stripe', reason: 'not_connected' });
    throw new ProviderNotConnectedError('stripe');
  }

  const verdict = verifyStripeSignature({
    rawBody: input.rawBody,
    headers: input.headers,
    secrets,
    now: ctx.now(),
    toleranceSeconds: ctx.config.stripeToleranceSeconds,
  });
  if (!verdict.ok) return rejectWebhook(ctx, 'stripe', input.workspaceId, verdict.reason);

  const event = parseStripeEvent(input.rawBody);
  if (!event) return rejectWebhook(ctx, 'stripe', input.workspaceId, 'invalid_payload');

  // A demo workspace keeps live traffic for the record but never acts on it.
  const ignoreLive = found.demo && event.livemode === true;
  const id = newId('ev', ctx.now());
  const stored = await insertEvent(ctx.db, {
    id,
    workspaceId: input.workspaceId,
    provider: 'stripe',
    providerEventId: event.id,
    type: event.type,
    livemode: event.livemode,
    providerCreatedAt: new Date(event.created * 1000),
    payload: event.payload,
    rawBody: input.rawBody.toString('utf8'),
    status: ignoreLive ? 'ignored' : 'received',
    error: ignoreLive ? 'live-mode event ignored: this is a demo workspace' : null,
  });
  if (!stored) return { duplicate: true, eventId: event.id };
  ctx.metrics.eventsStored.inc({ provider: 'stripe' });
  if (!ignoreLive) ctx.onEventStored();
  return { duplicate: false, eventId: event.id };
}
