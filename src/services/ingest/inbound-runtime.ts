// The per-database state of inbound ingest in this process: the lookup cache, the group-commit batcher, and the
// LISTEN that keeps the cache in step with other Sluice instances on the same PostgreSQL. Kept beside the Db
// (one per process in production; two test apps on one database are two instances, as two processes are).
import { insertEventBatch, type BatchedEvent } from '../../db/queries/event-inserts.js';
import { announceInboundChange } from '../../db/queries/inbound-changes.js';
import { countRejections } from '../../db/queries/inbound-rejections.js';
import { listenForInboundChanges, type InboundListener } from '../../db/inbound-listener.js';
import type { Db, Queryable } from '../../db/port.js';
import { Histogram } from 'prom-client';
import type { Ctx } from '../context.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import { describeFailure } from '../processing/failure-reason.js';
import { EventBatcher } from './event-batcher.js';
import { InboundCache } from './inbound-cache.js';
import { RejectionTally, type RejectionKey } from './rejection-tally.js';
import { storeInboundEvent } from './store-inbound-event.js';

interface InboundRuntime {
  cache: InboundCache;
  batcher: EventBatcher;
  rejections: RejectionTally;
  listener: InboundListener | undefined;
  users: number;
}

const runtimes = new WeakMap<Db, InboundRuntime>();

function runtime(ctx: Ctx): InboundRuntime {
  let rt = runtimes.get(ctx.db);
  if (!rt) {
    rt = {
      cache: new InboundCache(),
      batcher: new EventBatcher(batcherIo(ctx)),
      rejections: new RejectionTally(
        (counts) => countRejections(ctx.db, counts),
        (err, counts) =>
          ctx.log.warn(
            { err, counters: counts.length, rejections: counts.reduce((n, c) => n + c.count, 0) },
            'could not record rejected webhooks',
          ),
      ),
      listener: undefined,
      users: 0,
    };
    runtimes.set(ctx.db, rt);
  }
  return rt;
}

export function inboundCache(ctx: Ctx): InboundCache {
  return runtime(ctx).cache;
}

export function eventBatcher(ctx: Ctx): EventBatcher {
  return runtime(ctx).batcher;
}

/** Counts a rejected webhook on its workspace's counter, written in the background (see RejectionTally). */
export function countRejection(ctx: Ctx, key: RejectionKey): void {
  runtime(ctx).rejections.add(key);
}

/** Resolves once the rejections counted so far are written (tests; a stop waits for it too). */
export function rejectionsSettled(ctx: Ctx): Promise<void> {
  return runtimes.get(ctx.db)?.rejections.settled() ?? Promise.resolve();
}

/** How much the webhooks of this process have been waiting for their commit lately, from 0 to 1 (EventBatcher's
 *  pressure; 0 where this process takes no webhooks). */
export function ingestPressure(ctx: Ctx): number {
  return runtimes.get(ctx.db)?.batcher.pressure() ?? 0;
}

/** Inbound requests of this process waiting for their commit (0 where this process takes no webhooks). */
export function ingestBacklog(ctx: Ctx): number {
  return runtimes.get(ctx.db)?.batcher.backlog ?? 0;
}

function batcherIo(ctx: Ctx) {
  const flushRows = registered(
    ctx,
    'sluice_ingest_flush_requests',
    () =>
      new Histogram({
        name: 'sluice_ingest_flush_requests',
        help: 'Inbound requests answered by one group commit (one INSERT and one commit), by outcome',
        labelNames: ['outcome'],
        buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
        registers: [ctx.metrics.registry],
      }),
  );
  return {
    flushed(requests: number, ok: boolean) {
      flushRows.observe({ outcome: ok ? 'committed' : 'failed' }, requests);
    },
    insert: (rows: BatchedEvent[]) => insertEventBatch(ctx.db, rows),
    insertAlone: (row: BatchedEvent) => storeAlone(ctx, row),
    rowProblem: (err: unknown) => describeFailure(err).permanent || isForeignKeyViolation(err),
    stored(rows: BatchedEvent[]) {
      let wake = false;
      for (const row of rows) {
        ctx.metrics.eventsStored.inc({ provider: row.provider });
        if (row.status === 'received') wake = true;
        else ctx.metrics.eventOutcomes.inc({ provider: row.provider, outcome: row.status });
      }
      if (wake) ctx.onEventStored();
    },
  };
}

function isForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23503';
}

function registered<T>(ctx: Ctx, name: string, create: () => T): T {
  return (ctx.metrics.registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** A row of a batch the database refused for some row's content, through the careful single-row path (which
 *  stores refused content as a failed event). Counts and wakes as the batch would. */
async function storeAlone(ctx: Ctx, row: BatchedEvent): Promise<boolean> {
  // The single-row path stores the parsed payload and leaves the keys to the claim.
  const { payloadText, rawBody: bytes, serialKeys: _keys, ...rest } = row;
  const rawBody = bytes.toString('utf8');
  let result: { stored: boolean; failed: boolean };
  try {
    result = await storeInboundEvent(ctx, { ...rest, payload: JSON.parse(payloadText ?? rawBody) as unknown, raw: rawBody }, rawBody);
  } catch (err) {
    if (!isForeignKeyViolation(err)) throw err;
    // The workspace was deleted after this request found it (by another instance, say): what the cache
    // knew of it is stale, and the provider is told the workspace does not exist.
    forgetInboundSettings(ctx, row.workspaceId);
    throw new WorkspaceNotFoundError(row.workspaceId);
  }
  const { stored, failed } = result;
  if (stored) {
    ctx.metrics.eventsStored.inc({ provider: row.provider });
    if (!failed && row.status === 'received') ctx.onEventStored();
  }
  return stored;
}

/** Starts hearing other instances' changes (PostgreSQL with a URL); a no-op on the embedded database, where this
 *  process is the only one. Counted: the webhook routes of one app start and stop it together. */
export function startInboundSync(ctx: Ctx): void {
  const rt = runtime(ctx);
  rt.users++;
  if (rt.listener || !ctx.config.databaseUrl || ctx.db.kind !== 'postgres') return;
  rt.listener = listenForInboundChanges(ctx.config.databaseUrl, {
    onChange: (workspaceId) => rt.cache.invalidate(workspaceId),
    onGap: () => rt.cache.invalidate(),
    onError: (err) => ctx.log.warn({ err }, 'lost the connection that hears workspace and connection changes; reconnecting'),
  });
}

export async function stopInboundSync(ctx: Ctx): Promise<void> {
  const rt = runtimes.get(ctx.db);
  if (!rt || --rt.users > 0) return;
  await rt.rejections.settled();
  const listener = rt.listener;
  rt.listener = undefined;
  await listener?.stop();
}

/**
 * Runs a change to what inbound ingest looks up (a workspace, a connection, its secrets) in one transaction,
 * announced to other instances at its commit and forgotten by this one's cache right after it.
 */
export async function changeInboundSettings<T>(ctx: Ctx, workspaceId: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  try {
    return await ctx.db.transaction(async (tx) => {
      const result = await fn(tx);
      await announceInboundChange(tx, workspaceId);
      return result;
    });
  } finally {
    forgetInboundSettings(ctx, workspaceId);
  }
}

/** This process's half of changeInboundSettings, for a caller that announces the change in its own transaction. */
export function forgetInboundSettings(ctx: Ctx, workspaceId: string): void {
  runtimes.get(ctx.db)?.cache.invalidate(workspaceId);
}
