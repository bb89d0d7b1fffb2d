// POST /webhooks/stripe/:workspaceId. The answer is 200 only once the event row is committed; a duplicate
// event id is acknowledged without a second row or a second processing.
import { findWorkspaceWithConnection } from '../../db/queries/connections.js';
import { ProviderNotConnectedError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { parseStripeEvent } from '../../inbound/stripe/parse.js';
import { exactText, storableText, storableTime, textProblem } from '../../inbound/storable-payload.js';
import { verifyStripeSignature } from '../../inbound/stripe/verify.js';
import type { Ctx } from '../context.js';
import { countUnreadable, rejectWebhook } from './reject-webhook.js';
import { openStripeSecrets, stripeMode } from '../connections/stripe-connection.js';
import { storeInboundEvent } from './store-inbound-event.js';

/** Why an event of this livemode is kept only for the record, or undefined when it is processed. A connection
 *  without a mode accepts both, as before modes existed. */
function ignoredMode(demo: boolean, mode: 'test' | 'live' | null, livemode: boolean | null): string | undefined {
  if (demo && livemode === true) return 'live-mode event ignored: this is a demo workspace';
  if (mode === 'test' && livemode === true) return "live-mode event ignored: this workspace's Stripe connection is in test mode";
  if (mode === 'live' && livemode === false) return "test-mode event ignored: this workspace's Stripe connection is in live mode";
  return undefined;
}

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
  // An id no database text can hold (a NUL) names no workspace; asking PostgreSQL would only raise an error.
  const found = textProblem(input.workspaceId) ? undefined : await findWorkspaceWithConnection(ctx.db, input.workspaceId, 'stripe');
  if (!found) {
    ctx.metrics.inboundRejections.inc({ provider: 'stripe', reason: 'unknown_workspace' });
    throw new WorkspaceNotFoundError(input.workspaceId);
  }
  const secrets = found.connection ? countUnreadable(ctx, 'stripe', () => openStripeSecrets(ctx, found.connection!)).webhookSecrets : [];
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

  const exact = exactText(input.rawBody);
  const providerCreatedAt = storableTime(event.created);
  const ignored = ignoredMode(found.demo, stripeMode(found.connection!), event.livemode);
  const { stored, failed } = await storeInboundEvent(
    ctx,
    {
      id: newId('ev', ctx.now()),
      workspaceId: input.workspaceId,
      provider: 'stripe',
      // Escaped rather than refused: the id is the dedupe key, and the type is shown and filtered on.
      providerEventId: storableText(event.id),
      type: storableText(event.type),
      livemode: event.livemode,
      providerCreatedAt: providerCreatedAt ?? null,
      payload: event.payload,
      raw: input.rawBody,
      unstorable:
        exact === undefined
          ? 'the body is not valid UTF-8 text'
          : providerCreatedAt === undefined
            ? `\`created\` (${String(event.created)}) is not a unix time in seconds that can be stored`
            : undefined,
      status: ignored ? 'ignored' : 'received',
      error: ignored ?? null,
    },
    exact,
  );
  if (!stored) return { duplicate: true, eventId: event.id };
  ctx.metrics.eventsStored.inc({ provider: 'stripe' });
  if (!ignored && !failed) ctx.onEventStored();
  return { duplicate: false, eventId: event.id };
}
