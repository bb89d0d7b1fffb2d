// One claimed event on its own transaction: run its handler and record the outcome in the same transaction.
// The batch path (process-batch.ts) is the usual one; this one settles what a batch cannot: a same-second tie
// that needs the object fetched from the provider between two tries, and an event that lost a lock conflict.
// A handler error is recorded on the event and retried on the processing schedule; after the last retry the
// event is `failed`. A failure the content itself causes (data the database refuses, an impossible date) fails
// at once: the same payload would fail the same way on every retry.
import { EVENT_QUEUE, finishEvent, holdClaim, type ClaimedEvent } from '../../db/queries/events.js';
import { finishClaims } from '../../db/queries/queue.js';
import { RefetchNeeded, type HandlerOptions } from '../../crm/handlers.js';
import { StoreUnavailableError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { ClaimLost, eventOptions, failureOutcome, projectAndPublish, publishRawOfFailed, type ProcessOutcome } from './event-run.js';
import { markChecksDue } from './mark-checks-due.js';
import { settleTieByRefetch } from './settle-tie.js';

export type { ProcessOutcome } from './event-run.js';

export async function processEvent(ctx: Ctx, workerId: string, event: ClaimedEvent): Promise<ProcessOutcome> {
  try {
    let options: HandlerOptions = eventOptions(ctx, event);
    let outcome: 'processed' | 'ignored' | undefined;
    let checkDueAt: number | undefined;
    for (let round = 1; ; round += 1) {
      try {
        outcome = await ctx.db.transaction(async (tx) => {
          // A worker whose lease ran out (paused, partitioned) must not write: its projection and messages
          // would commit beside the run of the worker that took the event over. Checked and locked first.
          if (!(await holdClaim(tx, event.id, workerId))) return undefined;
          const result = await projectAndPublish(ctx, tx, event, options);
          // A batch marks the customers of its Stripe events due for a parity check once for the whole batch; an
          // event settled here (a tie fetched from Stripe, a lock-conflict retry) is past that batch's commit, so
          // it marks its own. (Piano's projection marks the customers it changes itself, on either path.)
          if (result === 'processed' && event.provider === 'stripe') checkDueAt = await markChecksDue(ctx, tx, [event.id], []);
          // Cannot miss while the claim is held; if it ever did, roll everything back rather than commit it.
          if (!(await finishEvent(tx, event.id, workerId, result))) throw new ClaimLost();
          return result;
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
    if (!outcome) return 'lost';
    ctx.onDeliveriesQueued();
    if (checkDueAt !== undefined) ctx.onChecksDue?.(checkDueAt);
    ctx.metrics.eventOutcomes.inc({ provider: event.provider, outcome });
    ctx.metrics.processingDuration.observe(
      { provider: event.provider, outcome },
      Math.max(0, Date.now() - event.receivedAt.getTime()) / 1000,
    );
    return outcome;
  } catch (err) {
    // The database itself is gone: leave the claim to expire rather than counting a handler failure.
    if (err instanceof StoreUnavailableError) throw err;
    const failed = failureOutcome(ctx, event, err);
    await finishClaims(ctx.db, EVENT_QUEUE, workerId, [failed.record]);
    // Its raw message goes out all the same (the Piano proxy's destinations get every stored webhook), once by its
    // dedupe key. After the failure is recorded, and only if it can: a raw message the database refuses must not
    // keep the event from being recorded.
    try {
      await ctx.db.transaction((tx) => publishRawOfFailed(tx, event, eventOptions(ctx, event)));
      ctx.onDeliveriesQueued();
    } catch (rawErr) {
      if (rawErr instanceof StoreUnavailableError) throw rawErr;
      ctx.log.warn({ eventId: event.id, err: rawErr }, 'the raw message of a failed event could not be published');
    }
    // Failed for good: its customer's next check reports it (stuck_event).
    if (failed.outcome === 'failed') {
      const dueAt = await markChecksDue(ctx, ctx.db, [], [event.id]);
      if (dueAt !== undefined) ctx.onChecksDue?.(dueAt);
    }
    ctx.metrics.eventOutcomes.inc({ provider: event.provider, outcome: failed.outcome });
    return failed.outcome;
  }
}
