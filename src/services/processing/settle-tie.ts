// Settles a same-second tie by fetching the object from Stripe's API (and, for Piano, confirms an access with
// Piano's API before it is revoked or reopened), outside any transaction (a network call
// must not hold the embedded database's only connection). The fetched object is stored with the event, so the
// retried projection and any later rebuild use the same state. Without an API key, or when Stripe cannot
// answer, the projection falls back on its documented rank rule rather than failing the event.
import { findConnection } from '../../db/queries/connections.js';
import { saveSnapshot } from '../../db/queries/provider-snapshots.js';
import type { HandlerOptions, StoredEvent } from '../../crm/handlers.js';
import { PianoApiClient } from '../../inbound/piano/api.js';
import { createStripeClient, retrieveObject } from '../../inbound/stripe/api.js';
import type { Ctx } from '../context.js';
import { openPianoSecrets, pianoSettings } from '../connections/piano-connection.js';
import { openStripeSecrets } from '../connections/stripe-connection.js';

export async function settleTieByRefetch(ctx: Ctx, event: StoredEvent, objectId: string, options: HandlerOptions): Promise<HandlerOptions> {
  const byRule: HandlerOptions = { ...options, refetchable: (id) => id !== objectId && (options.refetchable?.(id) ?? false) };
  if (event.provider === 'piano') return confirmPianoAccess(ctx, event, objectId, options, byRule);
  if (event.provider !== 'stripe') return byRule;
  const connection = await findConnection(ctx.db, event.workspaceId, 'stripe');
  const apiKey = connection ? openStripeSecrets(ctx, connection).apiKey : undefined;
  if (!apiKey) {
    ctx.metrics.tieRefetches.inc({ outcome: 'no_api_key' });
    return byRule;
  }
  // Taken before the request: the object is at least as new as this, and a refund seen failed after it is taken
  // off the fetched charge's figure (a failure in flight while fetching may be in the figure already: the earlier
  // time errs towards taking it off, never towards counting a failed refund).
  const fetchedAt = new Date(ctx.now());
  const fetched = await retrieveObject(await createStripeClient(apiKey, ctx.config.stripeApiUrl), objectId);
  if (!fetched.ok) {
    ctx.metrics.tieRefetches.inc({ outcome: fetched.failure.kind });
    ctx.log.warn(
      { eventId: event.id, objectId, kind: fetched.failure.kind, reason: fetched.failure.message },
      'could not fetch the object from Stripe to settle a same-second tie; settling it by rank instead',
    );
    return byRule;
  }
  await saveSnapshot(ctx.db, event.id, objectId, fetched.object, fetchedAt);
  ctx.metrics.tieRefetches.inc({ outcome: 'fetched' });
  ctx.log.info({ eventId: event.id, objectId }, 'same-second tie settled by the object fetched from Stripe');
  return {
    ...options,
    snapshots: new Map(options.snapshots).set(objectId, fetched.object),
    snapshotsFetchedAt: new Map(options.snapshotsFetchedAt).set(objectId, fetchedAt),
  };
}

/** Piano: asks `/publisher/user/access/list` for the user's accesses before an access is revoked or reopened. */
async function confirmPianoAccess(
  ctx: Ctx,
  event: StoredEvent,
  objectId: string,
  options: HandlerOptions,
  byRule: HandlerOptions,
): Promise<HandlerOptions> {
  const connection = await findConnection(ctx.db, event.workspaceId, 'piano');
  const apiToken = connection ? openPianoSecrets(ctx, connection).apiToken : undefined;
  if (!connection || !apiToken) {
    ctx.metrics.tieRefetches.inc({ outcome: 'no_api_key' });
    return byRule;
  }
  const settings = pianoSettings(connection);
  const client = new PianoApiClient({ aid: settings.aid, apiToken, region: settings.region, baseUrl: ctx.config.pianoApiUrl });
  const uid = objectId.slice('piano-access:'.length);
  const result = await client.userAccesses(uid);
  if (!result.ok) {
    ctx.metrics.tieRefetches.inc({ outcome: 'piano_error' });
    ctx.log.warn({ eventId: event.id, uid, reason: result.error }, 'could not confirm access with the Piano API; going by the event alone');
    return byRule;
  }
  // When Piano answered, so that a rebuild after the access has run out reads the answer as it was read now.
  const snapshot = { accesses: result.value, fetchedAt: Math.floor(ctx.now() / 1000) };
  await saveSnapshot(ctx.db, event.id, objectId, snapshot, new Date(snapshot.fetchedAt * 1000));
  ctx.metrics.tieRefetches.inc({ outcome: 'fetched' });
  return { ...options, snapshots: new Map(options.snapshots).set(objectId, snapshot) };
}
