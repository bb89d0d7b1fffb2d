// One claimed event: run its handler and record the outcome in the same transaction. A handler error is
// recorded on the event and retried on the processing schedule; after the last retry the event is `failed`.
// A failure the content itself causes (data the database refuses, an impossible date) fails at once: the same
// payload would fail the same way on every retry.
import { failEventAttempt, finishEvent, holdClaim, type ClaimedEvent } from '../../db/queries/events.js';
import { publishMessage } from '../../db/queries/messages.js';
import { newId } from '../../lib/ids.js';
import { RefetchNeeded, type HandlerOptions } from '../../crm/handlers.js';
import { StoreUnavailableError } from '../../errors.js';
import { canRetrieve } from '../../inbound/stripe/api.js';
import type { Ctx } from '../context.js';
import { describeFailure } from './failure-reason.js';
import { settleTieByRefetch } from './settle-tie.js';

class ClaimLost extends Error {}

export type ProcessOutcome = 'processed' | 'ignored' | 'retry' | 'failed' | 'lost';

export async function processEvent(ctx: Ctx, workerId: string, event: ClaimedEvent): Promise<ProcessOutcome> {
  const handler = ctx.findHandler(event.provider, event.type);
  try {
    const outcome = handler ? 'processed' : 'ignored';
    // Optimistic: whether the workspace has an API key is only looked up when a tie actually happens.
    const firstAttemptDelaySeconds = ctx.config.retrySchedule[0] ?? 0;
    let options: HandlerOptions = {
      firstAttemptDelaySeconds,
      now: ctx.now,
      refetchable: event.provider === 'stripe' ? canRetrieve : (id) => id.startsWith('piano-access:'),
    };
    let kept: boolean;
    for (let round = 1; ; round += 1) {
      try {
        kept = await ctx.db.transaction(async (tx) => {
          // A worker whose lease ran out (paused, partitioned) must not write: its projection and messages
          // would commit beside the run of the worker that took the event over. Checked and locked first.
          if (!(await holdClaim(tx, event.id, workerId))) return false;
          if (handler) await handler(tx, event, options);
          // Every provider event is also a message of its own (`stripe.<type>`), for endpoints that want the raw feed.
          await publishMessage(tx, {
            id: newId('msg'),
            workspaceId: event.workspaceId,
            type: `${event.provider}.${event.type}`,
            data: event.payload,
            sourceProvider: event.provider,
            sourceEventId: event.providerEventId,
            dedupeKey: `raw:${event.id}`,
            firstAttemptDelaySeconds,
          });
          // Cannot miss while the claim is held; if it ever did, roll everything back rather than commit it.
          if (!(await finishEvent(tx, event.id, workerId, outcome))) throw new ClaimLost();
          return true;
        });
        break;
      } catch (err) {
        if (err instanceof ClaimLost) return 'lost';
        // Each round settles one more object, so this ends; the bound only guards against a bug looping.
        if (!(err instanceof RefetchNeeded) || round > 10) throw err;
        options = await settleTieByRefetch(ctx, event, err.objectId, options);
      }
    }
    // Our lease ran out and another worker took the event over; its run decides the outcome.
    if (!kept) return 'lost';
    ctx.onDeliveriesQueued();
    ctx.metrics.eventOutcomes.inc({ provider: event.provider, outcome });
    ctx.metrics.processingDuration.observe(
      { provider: event.provider, outcome },
      Math.max(0, Date.now() - event.receivedAt.getTime()) / 1000,
    );
    return outcome;
  } catch (err) {
    // The database itself is gone: leave the claim to expire rather than counting a handler failure.
    if (err instanceof StoreUnavailableError) throw err;
    const schedule = ctx.config.processingRetrySchedule;
    const failure = describeFailure(err);
    const retryIn = !failure.permanent && event.attempts <= schedule.length ? schedule[event.attempts - 1]! : null;
    // The raw error (it may quote SQL) stays in the log; the event carries the readable reason.
    ctx.log.warn(
      { eventId: event.id, type: event.type, attempt: event.attempts, permanent: failure.permanent, err },
      'event processing failed',
    );
    await failEventAttempt(ctx.db, event.id, workerId, failure.reason, retryIn);
    const outcome = retryIn === null ? 'failed' : 'retry';
    ctx.metrics.eventOutcomes.inc({ provider: event.provider, outcome });
    return outcome;
  }
}
