// A claimed batch of events, projected in ONE transaction (one commit, one WAL flush, for the whole batch) with
// a savepoint per event, so one bad event fails alone: its savepoint is rolled back and its failure recorded,
// the others commit. The claims are re-checked and row-locked first: an event whose claim was lost (lease
// expired, taken over) is skipped and nothing is written for it.
//
// Events that cannot be settled inside the batch go through processEvent on their own after the commit:
// a same-second tie that needs the object fetched from Stripe (the fetch must not hold the batch's locks),
// and an event that lost a lock conflict to another worker's batch (a deadlock victim: its retry alone cannot
// deadlock with that batch again).
import { EVENT_QUEUE, type ClaimedEvent } from '../../db/queries/events.js';
import { finishClaims, holdClaims, savepoint, type ClaimOutcome } from '../../db/queries/queue.js';
import { RefetchNeeded } from '../../crm/handlers.js';
import { StoreUnavailableError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { ClaimLost, eventOptions, failureOutcome, projectAndPublish, type ProcessOutcome } from './event-run.js';
import { processEvent } from './process-event.js';

// Lock conflicts between two batches: deadlock detected, serialization failure. Nothing wrong with the event.
const CONFLICT_STATES = new Set(['40P01', '40001']);

interface Settled {
  event: ClaimedEvent;
  outcome: Exclude<ProcessOutcome, 'lost'>;
  err?: unknown;
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export async function processBatch(ctx: Ctx, workerId: string, batch: readonly ClaimedEvent[]): Promise<Map<string, ProcessOutcome>> {
  const results = new Map<string, ProcessOutcome>();
  if (batch.length === 0) return results;
  let settled: Settled[] = [];
  let alone: ClaimedEvent[] = [];
  try {
    await ctx.db.transaction(async (tx) => {
      settled = [];
      alone = [];
      // A worker whose lease ran out (paused, partitioned) must not write: its projection and messages would
      // commit beside the run of the worker that took the event over. Checked and locked before any work.
      const mine = await holdClaims(
        tx,
        EVENT_QUEUE,
        workerId,
        batch.map((e) => e.id),
      );
      const records: ClaimOutcome[] = [];
      await savepoint.open(tx);
      for (const event of batch) {
        if (!mine.has(event.id)) continue;
        try {
          const outcome = await projectAndPublish(ctx, tx, event, eventOptions(ctx, event));
          await savepoint.next(tx);
          settled.push({ event, outcome });
          records.push({ id: event.id, status: outcome, error: null, retryInSeconds: null });
        } catch (err) {
          // The database itself is gone: the whole batch rolls back and its claims expire.
          if (err instanceof StoreUnavailableError) throw err;
          await savepoint.rollback(tx);
          if (err instanceof RefetchNeeded || CONFLICT_STATES.has(sqlState(err) ?? '')) {
            alone.push(event);
            continue;
          }
          const failed = failureOutcome(ctx, event, err);
          settled.push({ event, outcome: failed.outcome, err });
          records.push(failed.record);
        }
      }
      await savepoint.close(tx);
      // Cannot miss while the claims are locked; if it ever did, roll everything back rather than commit it.
      if ((await finishClaims(tx, EVENT_QUEUE, workerId, records)) !== records.length) throw new ClaimLost();
    });
  } catch (err) {
    if (!(err instanceof ClaimLost)) throw err;
    for (const e of batch) results.set(e.id, 'lost');
    return results;
  }

  let queued = false;
  for (const { event, outcome } of settled) {
    results.set(event.id, outcome);
    ctx.metrics.eventOutcomes.inc({ provider: event.provider, outcome });
    if (outcome === 'processed' || outcome === 'ignored') {
      queued = true;
      ctx.metrics.processingDuration.observe(
        { provider: event.provider, outcome },
        Math.max(0, Date.now() - event.receivedAt.getTime()) / 1000,
      );
    }
  }
  if (queued) ctx.onDeliveriesQueued();
  for (const event of alone) results.set(event.id, await processEvent(ctx, workerId, event));
  for (const e of batch) if (!results.has(e.id)) results.set(e.id, 'lost');
  return results;
}
