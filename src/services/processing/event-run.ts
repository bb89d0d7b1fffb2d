// What running one claimed event means, shared by the batch path and the single-event path: the handler's
// options, the work inside the transaction, and the queue outcome of a failure.
import type { Queryable } from '../../db/port.js';
import { eventFailure, type ClaimedEvent } from '../../db/queries/events.js';
import { publishMessage } from '../../db/queries/messages.js';
import type { ClaimOutcome } from '../../db/queries/queue.js';
import type { HandlerOptions } from '../../crm/handlers.js';
import { canRetrieve } from '../../inbound/stripe/api.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { describeFailure } from './failure-reason.js';
import { isSyntheticEventId } from '../../inbound/synthetic-event.js';

export type ProcessOutcome = 'processed' | 'ignored' | 'retry' | 'failed' | 'lost';

/** The claim was found gone where it cannot be: the transaction rolls back instead of committing. */
export class ClaimLost extends Error {}

export function eventOptions(ctx: Ctx, event: ClaimedEvent): HandlerOptions {
  return {
    firstAttemptDelaySeconds: ctx.config.retrySchedule[0] ?? 0,
    now: ctx.now,
    // Debounced: a burst of events for one customer is checked once, after the last of them has had time to land.
    checkDueAt: new Date(ctx.now() + ctx.config.checkDebounceMs),
    recovered: event.recovered,
    // Optimistic: whether the workspace has an API key is only looked up when a tie actually happens.
    refetchable: event.provider === 'stripe' ? canRetrieve : (id) => id.startsWith('piano-access:'),
  };
}

/** The work of one event inside a transaction: its projection and its raw message (`stripe.<type>`). */
export async function projectAndPublish(
  ctx: Ctx,
  tx: Queryable,
  event: ClaimedEvent,
  options: HandlerOptions,
): Promise<'processed' | 'ignored'> {
  const handler = ctx.findHandler(event.provider, event.type);
  if (handler) await handler(tx, event, options);
  await publishRaw(tx, event, options);
  return handler ? 'processed' : 'ignored';
}

/**
 * Every provider event is also a message of its own (`stripe.<type>`, `piano.<type>`), for endpoints that want the
 * raw feed and for the Piano proxy's destinations, which get every stored Piano webhook. It does not depend on the
 * projection: an event whose projection failed is published too (publishRawOfFailed), once whatever the attempts,
 * by its dedupe key. A scan's repair (an object as the provider's API answered it) is not an event the provider
 * sent: it has no raw message, only the business events the change causes.
 */
async function publishRaw(tx: Queryable, event: ClaimedEvent, options: HandlerOptions): Promise<void> {
  if (isSyntheticEventId(event.providerEventId)) return;
  const raw = {
    id: newId('msg'),
    workspaceId: event.workspaceId,
    type: `${event.provider}.${event.type}`,
    data: event.payload,
    dataOfEvent: event.id,
    sourceProvider: event.provider,
    sourceEventId: event.providerEventId,
    dedupeKey: `raw:${event.id}`,
    firstAttemptDelaySeconds: options.firstAttemptDelaySeconds ?? 0,
    recovered: event.recovered,
  };
  if (options.batch) options.batch.addMessage(raw);
  else await publishMessage(tx, raw);
}

/** The raw message of an event whose projection failed (its own writes rolled back): published all the same. */
export async function publishRawOfFailed(tx: Queryable, event: ClaimedEvent, options: HandlerOptions): Promise<void> {
  await publishRaw(tx, event, { ...options, batch: undefined });
}

/** The queue outcome of a failed attempt: retried on the processing schedule, or failed for good. */
export function failureOutcome(ctx: Ctx, event: ClaimedEvent, err: unknown): { outcome: 'retry' | 'failed'; record: ClaimOutcome } {
  const schedule = ctx.config.processingRetrySchedule;
  const failure = describeFailure(err);
  const retryIn = !failure.permanent && event.attempts <= schedule.length ? schedule[event.attempts - 1]! : null;
  // The raw error (it may quote SQL) stays in the log; the event carries the readable reason.
  ctx.log.warn(
    { eventId: event.id, type: event.type, attempt: event.attempts, permanent: failure.permanent, err },
    'event processing failed',
  );
  return { outcome: retryIn === null ? 'failed' : 'retry', record: eventFailure(event.id, failure.reason, retryIn) };
}
