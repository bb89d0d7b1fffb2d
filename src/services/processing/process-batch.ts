// A claimed batch of events, projected in ONE transaction (one commit, one WAL flush, for the whole batch). The
// claims are re-checked and row-locked first: an event whose claim was lost (lease expired, taken over) is
// skipped and nothing is written for it.
//
// The first run is made for speed, since events rarely fail: no savepoint per event (one round trip each), and
// the writes every event makes are made once for the batch (batch-writes.ts): its customers and catalog stubs
// before the events run, its messages and timeline links just before the commit. If anything in it fails, the
// run rolls back and the batch runs again the careful way: a savepoint per event, each event making its own
// writes, so a bad event fails alone (its savepoint rolled back, its failure recorded) and the others commit.
// The event that failed the first run is not run a second time: it fails with the first run's error.
//
// Events that cannot be settled inside the batch go through processEvent on their own after the commit:
// a same-second tie that needs the object fetched from Stripe (the fetch must not hold the batch's locks;
// a workspace with no API key to fetch with settles its ties by rank inside the batch, as processEvent would),
// and an event that lost a lock conflict to another worker's batch (a deadlock victim: its retry alone cannot
// deadlock with that batch again).
import { EVENT_QUEUE, type ClaimedEvent } from '../../db/queries/events.js';
import { finishClaims, holdClaims, savepoint, type ClaimOutcome } from '../../db/queries/queue.js';
import { batchCustomerRefs, ensureBatchCatalog, RefetchNeeded } from '../../crm/handlers.js';
import { StoreUnavailableError } from '../../errors.js';
import { isLockConflict } from '../../db/store-errors.js';
import type { Ctx } from '../context.js';
import { openPianoSecrets } from '../connections/piano-connection.js';
import { openStripeSecrets } from '../connections/stripe-connection.js';
import { inboundCache } from '../ingest/inbound-runtime.js';
import { ClaimLost, eventOptions, failureOutcome, projectAndPublish, publishRawOfFailed, type ProcessOutcome } from './event-run.js';
import { markChecksDue } from './mark-checks-due.js';
import { BatchWrites } from './batch-writes.js';
import { processEvent } from './process-event.js';

interface Settled {
  event: ClaimedEvent;
  outcome: Exclude<ProcessOutcome, 'lost'>;
  err?: unknown;
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether each (provider, workspace) of the batch has the API credential a tie refetch needs, from the
 *  inbound cache (seconds old at most; a credential added meanwhile only means one tie settled by rank). */
async function refetchCredentials(ctx: Ctx, batch: readonly ClaimedEvent[]): Promise<Map<string, boolean>> {
  const cache = inboundCache(ctx);
  const found = new Map<string, boolean>();
  for (const e of batch) {
    const key = `${e.provider}:${e.workspaceId}`;
    if (found.has(key) || (e.provider !== 'stripe' && e.provider !== 'piano')) continue;
    // The same opener as ingest: the cache holds one entry per (provider, workspace), whoever filled it.
    const stripe = e.provider === 'stripe';
    const open = (c: Parameters<typeof openStripeSecrets>[1]) => (stripe ? openStripeSecrets(ctx, c) : openPianoSecrets(ctx, c));
    const { source } = await cache.lookup(ctx, e.workspaceId, e.provider, open);
    const secrets = source?.secrets?.ok ? (source.secrets.value as { apiKey?: string; apiToken?: string }) : undefined;
    found.set(key, Boolean(stripe ? secrets?.apiKey : secrets?.apiToken));
  }
  return found;
}

/** What one run of a batch decided, once its transaction committed. */
interface BatchRun {
  settled: Settled[];
  /** Events to run on their own after the commit (a tie to refetch, a lock conflict). */
  alone: ClaimedEvent[];
  checkDueAt: number | undefined;
  /** Same-second ties settled by rank for want of an API key (counted once the run commits). */
  tiesWithoutKey: number;
  /** Whether the run created work for the sender or the workflow worker (see BatchWrites.claimable). */
  claimable: boolean;
}

/** An event failed in a batch run without savepoints: everything rolls back and the batch runs again with them. */
class NeedsSavepoints extends Error {
  constructor(
    /** The event that failed, or undefined when a write made for all the events at once did. */
    readonly eventId: string | undefined,
    readonly failure: unknown,
  ) {
    super('an event of the batch failed');
  }
}

/** A write of the first run made for all its events at once: if the database refuses it, the batch runs again
 *  with savepoints, where each event makes its own writes and only the event at fault fails. */
async function batchStep(step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    throw new NeedsSavepoints(undefined, err);
  }
}

/**
 * Events of the batch grouped by what they are about: two events that share a serial key (the claim's keys: the
 * customer, the payment intent, invoice or charge) are in the same group, and so, through them, are the events
 * that share a key with either. When an event has no keys (it was not read by a claim), the batch is one group.
 */
function groupsOf(events: readonly ClaimedEvent[]): Map<ClaimedEvent, number> {
  const parent = events.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const unkeyed = events.some((e) => e.serialKeys === undefined);
  const holder = new Map<string, number>();
  events.forEach((event, i) => {
    for (const key of unkeyed ? [''] : event.serialKeys!) {
      const other = holder.get(key);
      if (other === undefined) holder.set(key, i);
      else parent[root(i)] = root(other);
    }
  });
  return new Map(events.map((event, i) => [event, root(i)]));
}

/**
 * The first run's events, side by side in the batch's transaction: events about the same things (groupsOf) run one
 * after the other, in claim order, as the claims order them across workers, and the groups at the same time, so
 * that their object writes join into one statement per table (BatchWrites.oneTrip) instead of one round trip each.
 * The transaction's statements still go one at a time over its connection; what is saved is the waiting between
 * them.
 *
 * Every event is waited for before anything is thrown: nothing may still be using the transaction when it rolls
 * back. A failure throws NeedsSavepoints for the event at fault, found as the batch found it when events ran one by
 * one: the first in claim order, leaving out the statements that failed only because an earlier one had aborted the
 * transaction (25P02), and naming no event when the failed statement was a joined one (several events' writes).
 */
async function sideBySide(
  events: readonly ClaimedEvent[],
  run: (event: ClaimedEvent) => Promise<'processed' | 'ignored'>,
): Promise<Map<ClaimedEvent, 'processed' | 'ignored'>> {
  const outcomes = new Map<ClaimedEvent, 'processed' | 'ignored'>();
  const failures = new Map<ClaimedEvent, unknown>();
  const group = groupsOf(events);
  const chains = new Map<number, Promise<void>>();
  const all: Promise<void>[] = [];
  for (const event of events) {
    const g = group.get(event)!;
    const chain = (chains.get(g) ?? Promise.resolve()).then(async () => {
      // The run is lost already: start nothing more on its transaction.
      if (failures.size > 0) return;
      try {
        outcomes.set(event, await run(event));
      } catch (err) {
        failures.set(event, err);
      }
    });
    chains.set(g, chain);
    all.push(chain);
  }
  await Promise.all(all);
  if (failures.size === 0) return outcomes;
  const errors = [...failures.values()];
  const lost = errors.find((err) => err instanceof StoreUnavailableError);
  if (lost) throw lost;
  const causes = events.filter((e) => failures.has(e) && sqlState(failures.get(e)) !== '25P02');
  const cause = causes[0];
  if (!cause) throw new NeedsSavepoints(undefined, errors[0]);
  const err = failures.get(cause);
  const joined = errors.filter((e) => e === err).length > 1;
  throw new NeedsSavepoints(joined ? undefined : cause.id, err);
}

/**
 * One run of a batch in one transaction. Without savepoints (the usual case: events rarely fail) an event costs
 * only its own statements; the first failure rolls the whole run back (NeedsSavepoints) and the caller runs the
 * batch again with a savepoint per event, where a failing event fails alone.
 */
async function runBatch(
  ctx: Ctx,
  workerId: string,
  batch: readonly ClaimedEvent[],
  credentials: Map<string, boolean>,
  /** Absent: the first run, without savepoints. Present: the run with them, and the failure of the first run (that
   *  event is not run again: everything before it ran as it will now, so it would only fail the same way). */
  rerun: NeedsSavepoints | undefined,
): Promise<BatchRun> {
  const savepoints = rerun !== undefined;
  let run: BatchRun = { settled: [], alone: [], checkDueAt: undefined, tiesWithoutKey: 0, claimable: false };
  await ctx.db.transaction(async (tx) => {
    run = { settled: [], alone: [], checkDueAt: undefined, tiesWithoutKey: 0, claimable: false };
    const { settled, alone } = run;
    // A worker whose lease ran out (paused, partitioned) must not write: its projection and messages would
    // commit beside the run of the worker that took the event over. Checked and locked before any work.
    const mine = await holdClaims(
      tx,
      EVENT_QUEUE,
      workerId,
      batch.map((e) => e.id),
    );
    const events = batch.filter((e) => mine.has(e.id));
    const records: ClaimOutcome[] = [];
    // The customers and catalog stubs of all the events are written at the start, messages and timeline links
    // at the end: one statement each for the batch instead of one (or several) per event. The run with
    // savepoints writes them event by event instead, each inside its event's savepoint: content the database
    // refuses (a price amount out of range) then fails only the event that carries it.
    const writes = new BatchWrites(tx);
    let catalogWritten: ReadonlySet<string> = new Set();
    if (!savepoints) {
      await batchStep(async () => {
        await writes.ensureCustomers(batchCustomerRefs(events));
        catalogWritten = await ensureBatchCatalog(tx, events);
      });
    }
    const optionsFor = (event: ClaimedEvent) => {
      const options = eventOptions(ctx, event);
      options.batch = writes;
      options.catalogWritten = catalogWritten;
      if (credentials.get(`${event.provider}:${event.workspaceId}`) === false) {
        // Settled by rank, and counted as the single-event path counts a tie it has no key to fetch for.
        const fetchable = options.refetchable;
        options.refetchable = () => false;
        options.notFetched = (id) => {
          if (fetchable?.(id)) run.tiesWithoutKey++;
        };
      }
      return options;
    };
    if (!savepoints) {
      const outcomes = await sideBySide(events, (event) => projectAndPublish(ctx, tx, event, optionsFor(event)));
      for (const event of events) {
        const outcome = outcomes.get(event)!;
        settled.push({ event, outcome });
        records.push({ id: event.id, status: outcome, error: null, retryInSeconds: null });
      }
    } else {
      await savepoint.open(tx);
      for (const event of events) {
        const mark = writes.mark();
        try {
          if (rerun.eventId === event.id) throw rerun.failure;
          const outcome = await projectAndPublish(ctx, tx, event, optionsFor(event));
          await writes.flush();
          await savepoint.next(tx);
          settled.push({ event, outcome });
          records.push({ id: event.id, status: outcome, error: null, retryInSeconds: null });
        } catch (err) {
          // The database itself is gone: the whole batch rolls back and its claims expire.
          if (err instanceof StoreUnavailableError) throw err;
          await savepoint.rollback(tx);
          writes.rollbackTo(mark);
          // A lock conflict with another batch (isLockConflict) says nothing wrong about the event.
          if (err instanceof RefetchNeeded || isLockConflict(err)) {
            alone.push(event);
            continue;
          }
          const failed = failureOutcome(ctx, event, err);
          settled.push({ event, outcome: failed.outcome, err });
          records.push(failed.record);
          // Its raw message goes out all the same (the Piano proxy's destinations get every stored webhook), kept
          // past the next event's savepoint. Only if it can: a raw message the database refuses must not turn this
          // recorded failure into a batch that fails for ever.
          try {
            await publishRawOfFailed(tx, event, optionsFor(event));
          } catch (rawErr) {
            if (rawErr instanceof StoreUnavailableError) throw rawErr;
            await savepoint.rollback(tx);
            ctx.log.warn({ eventId: event.id, err: rawErr }, 'the raw message of a failed event could not be published');
          }
          await savepoint.next(tx);
        }
      }
      await savepoint.close(tx);
    }
    if (!savepoints) await batchStep(() => writes.flush());
    // The run with savepoints also publishes the raw messages of failed events one by one (publishRawOfFailed),
    // past BatchWrites: a rare path, whose workers are simply woken.
    run.claimable = savepoints || writes.claimable;
    // The customers these events changed are checked for parity a little later, once for the whole burst.
    // (Piano's projection marks the customers whose subscriptions or access it changed itself: a Piano user
    // event changes neither.)
    run.checkDueAt = await markChecksDue(
      ctx,
      tx,
      settled.filter((s) => s.outcome === 'processed' && s.event.provider === 'stripe').map((s) => s.event.id),
      settled.filter((s) => s.outcome === 'failed').map((s) => s.event.id),
    );
    // Cannot miss while the claims are locked; if it ever did, roll everything back rather than commit it.
    if ((await finishClaims(tx, EVENT_QUEUE, workerId, records)) !== records.length) throw new ClaimLost();
  });
  return run;
}

export async function processBatch(ctx: Ctx, workerId: string, batch: readonly ClaimedEvent[]): Promise<Map<string, ProcessOutcome>> {
  const results = new Map<string, ProcessOutcome>();
  if (batch.length === 0) return results;
  const credentials = await refetchCredentials(ctx, batch);
  let run: BatchRun;
  try {
    try {
      run = await runBatch(ctx, workerId, batch, credentials, undefined);
    } catch (err) {
      if (!(err instanceof NeedsSavepoints)) throw err;
      ctx.metrics.eventBatchReruns.inc();
      run = await runBatch(ctx, workerId, batch, credentials, err);
    }
  } catch (err) {
    if (!(err instanceof ClaimLost)) throw err;
    for (const e of batch) results.set(e.id, 'lost');
    return results;
  }
  const { settled, alone, checkDueAt } = run;
  if (run.tiesWithoutKey > 0) ctx.metrics.tieRefetches.inc({ outcome: 'no_api_key' }, run.tiesWithoutKey);

  for (const { event, outcome } of settled) {
    results.set(event.id, outcome);
    ctx.metrics.eventOutcomes.inc({ provider: event.provider, outcome });
    if (outcome === 'processed' || outcome === 'ignored') {
      ctx.metrics.processingDuration.observe(
        { provider: event.provider, outcome },
        Math.max(0, Date.now() - event.receivedAt.getTime()) / 1000,
      );
    }
  }
  if (run.claimable) ctx.onDeliveriesQueued();
  if (checkDueAt !== undefined) ctx.onChecksDue?.(checkDueAt);
  for (const event of alone) results.set(event.id, await processEvent(ctx, workerId, event));
  for (const e of batch) if (!results.has(e.id)) results.set(e.id, 'lost');
  return results;
}
