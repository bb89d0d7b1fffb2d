// POST /webhooks/stripe/:workspaceId. The answer is 200 only once the event row is committed; a duplicate
// event id is acknowledged without a second row or a second processing.
import { AppError, ProviderNotConnectedError, WorkspaceNotFoundError, type SignatureFailureReason } from '../../errors.js';
import type { ConnectionRow } from '../../db/queries/connections.js';
import { serialKeysOf } from '../../db/queries/event-serial-keys.js';
import { newId } from '../../lib/ids.js';
import { parseStripeEvent } from '../../inbound/stripe/parse.js';
import { exactText, isPlainJsonText, storableText, storableTime, textProblem } from '../../inbound/storable-payload.js';
import { verifyStripeSignature } from '../../inbound/stripe/verify.js';
import type { Ctx } from '../context.js';
import { countUnreadable, rejectWebhook } from './reject-webhook.js';
import { openStripeSecrets, stripeEnabled, stripeMode, type StripeSecrets } from '../connections/stripe-connection.js';
import { storeInboundEvent } from './store-inbound-event.js';
import type { InboundSource } from './inbound-cache.js';
import { eventBatcher, inboundCache } from './inbound-runtime.js';

/** Why an event of this livemode is kept only for the record, or undefined when it is processed. A connection
 *  without a mode accepts both, as before modes existed. */
export function ignoredMode(demo: boolean, mode: 'test' | 'live' | null, livemode: boolean | null): string | undefined {
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

type Check =
  | { ok: true; source: InboundSource }
  | { ok: false; source: undefined; why: 'unknown_workspace' }
  | { ok: false; source: InboundSource; why: 'not_connected' }
  | { ok: false; source: InboundSource; why: 'secret_unreadable'; error: unknown }
  | { ok: false; source: InboundSource; why: 'signature'; reason: Exclude<SignatureFailureReason, 'invalid_payload'> };

/** Verifies the request against what is known of the workspace. */
function check(ctx: Ctx, source: InboundSource | undefined, input: IngestInput): Check {
  if (!source) return { ok: false, source, why: 'unknown_workspace' };
  if (!source.connection || !source.secrets) return { ok: false, source, why: 'not_connected' };
  if (!source.secrets.ok) return { ok: false, source, why: 'secret_unreadable', error: source.secrets.error };
  const secrets = (source.secrets.value as StripeSecrets).webhookSecrets;
  if (secrets.length === 0) return { ok: false, source, why: 'not_connected' };
  const verdict = verifyStripeSignature({
    rawBody: input.rawBody,
    headers: input.headers,
    secrets,
    now: ctx.now(),
    toleranceSeconds: ctx.config.stripeToleranceSeconds,
  });
  return verdict.ok ? { ok: true, source } : { ok: false, source, why: 'signature', reason: verdict.reason };
}

/** The workspace's source, once the request is verified against it. What the cache holds may be a few seconds
 *  old: anything it refuses that newer settings could accept (a secret just added, a connection just made,
 *  secrets re-sealed) is checked once more against a fresh read before the request is refused. */
async function verifiedSource(ctx: Ctx, input: IngestInput): Promise<InboundSource> {
  const cache = inboundCache(ctx);
  const open = (connection: ConnectionRow) => openStripeSecrets(ctx, connection);
  const found = await cache.lookup(ctx, input.workspaceId, 'stripe', open);
  let result = check(ctx, found.source, input);
  if (!result.ok && found.cached && (result.why !== 'signature' || result.reason === 'signature_mismatch')) {
    result = check(ctx, (await cache.lookup(ctx, input.workspaceId, 'stripe', open, true)).source, input);
  }
  if (result.ok) return result.source;
  switch (result.why) {
    case 'unknown_workspace':
      ctx.metrics.inboundRejections.inc({ provider: 'stripe', reason: 'unknown_workspace' });
      throw new WorkspaceNotFoundError(input.workspaceId);
    case 'not_connected':
      ctx.metrics.inboundRejections.inc({ provider: 'stripe', reason: 'not_connected' });
      throw new ProviderNotConnectedError('stripe');
    case 'secret_unreadable':
      return countUnreadable(ctx, 'stripe', () => {
        throw result.error;
      });
    case 'signature':
      return rejectWebhook(ctx, 'stripe', input.workspaceId, result.reason);
  }
}

/** Stripe's `created` → now, once per new event (a redelivery of a stored event says nothing new). Negative
 *  values (the clocks disagree) count as 0. One histogram observation: no measurable cost on the ingest path. */
function observeDeliveryLag(ctx: Ctx, createdAt: Date | null | undefined): void {
  if (!createdAt) return;
  ctx.metrics.webhookDeliveryLag.observe({ provider: 'stripe' }, Math.max(0, (ctx.now() - createdAt.getTime()) / 1000));
}

export async function ingestStripeEvent(ctx: Ctx, input: IngestInput): Promise<IngestResult> {
  // An id no database text can hold (a NUL) names no workspace; asking PostgreSQL would only raise an error.
  if (textProblem(input.workspaceId)) {
    ctx.metrics.inboundRejections.inc({ provider: 'stripe', reason: 'unknown_workspace' });
    throw new WorkspaceNotFoundError(input.workspaceId);
  }
  const source = await verifiedSource(ctx, input);

  // Decoded once: the same text is parsed here and stored as both raw_body and (cast by PostgreSQL) payload.
  const exact = exactText(input.rawBody);
  const event = parseStripeEvent(exact ?? input.rawBody);
  if (!event) return rejectWebhook(ctx, 'stripe', input.workspaceId, 'invalid_payload');

  // Switched off by the team: verified (so this says nothing to a stranger), but not taken in. 503 makes Stripe
  // retry it for up to three days, so switching back on within that time loses nothing.
  if (!stripeEnabled(source.connection!)) {
    ctx.metrics.inboundRejections.inc({ provider: 'stripe', reason: 'connection_disabled' });
    throw new AppError(
      'CONNECTION_DISABLED',
      'Stripe webhooks are switched off for this workspace; Stripe retries this one, and it is taken in once they are switched on again',
      503,
      true,
    );
  }

  const providerCreatedAt = storableTime(event.created);
  const ignored = ignoredMode(source.demo, stripeMode(source.connection!), event.livemode);
  const common = {
    id: newId('ev', ctx.now()),
    workspaceId: input.workspaceId,
    provider: 'stripe',
    // Escaped rather than refused: the id is the dedupe key, and the type is shown and filtered on.
    providerEventId: storableText(event.id),
    type: storableText(event.type),
    livemode: event.livemode,
    status: ignored ? ('ignored' as const) : ('received' as const),
    error: ignored ?? null,
  };
  if (exact !== undefined && providerCreatedAt !== undefined && isPlainJsonText(exact)) {
    const isNew = await eventBatcher(ctx).add({
      ...common,
      providerCreatedAt,
      rawBody: input.rawBody,
      payloadText: null,
      inboundMethod: null,
      serialKeys: serialKeysOf(input.workspaceId, event.payload),
    });
    if (isNew) observeDeliveryLag(ctx, providerCreatedAt);
    return isNew ? { duplicate: false, eventId: event.id } : { duplicate: true, eventId: event.id };
  }

  // Content PostgreSQL may refuse as jsonb: the careful single-row path, which keeps it as a failed event.
  const { stored, failed } = await storeInboundEvent(
    ctx,
    {
      ...common,
      providerCreatedAt: providerCreatedAt ?? null,
      payload: event.payload,
      raw: input.rawBody,
      unstorable:
        exact === undefined
          ? 'the body is not valid UTF-8 text'
          : providerCreatedAt === undefined
            ? `\`created\` (${String(event.created)}) is not a unix time in seconds that can be stored`
            : undefined,
    },
    exact,
  );
  if (!stored) return { duplicate: true, eventId: event.id };
  ctx.metrics.eventsStored.inc({ provider: 'stripe' });
  observeDeliveryLag(ctx, providerCreatedAt);
  if (!ignored && !failed) ctx.onEventStored();
  return { duplicate: false, eventId: event.id };
}
