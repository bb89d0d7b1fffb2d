// Ingest first. With `--role all` the API and the event workers share one Node thread and one machine. While
// senders press webhooks as fast as they are answered (a provider's backlog arriving at once), every batch the
// workers project is CPU taken from answering them, and they wait for their 200 (a provider that waits too long
// retries, adding to the burst). Projection can wait; an answer should not. So while ingest is under pressure (the
// webhooks of the process have kept the batcher's backlog up for most of the last few hundred milliseconds:
// EventBatcher.pressure), the workers stand aside:
//
// - The first batch (none of the process running) holds back, for at most SLUICE_INGEST_FIRST_MS since the last
//   batch that went on under pressure: the projection keeps going under a burst that never ends, one batch per that
//   time for the whole process, and catches up at full speed when the burst is over. A batch that goes on under
//   pressure is a quarter of the usual size (pressedBatchSize): it is there to keep the CRM moving, not to keep up.
// - Further batches beside a running one do not start at all.
//
// Pressure, not the backlog of the moment: steady traffic has webhooks waiting now and then (each group commit takes
// a few milliseconds and answers all of them at once), and a worker held back whenever it looked at such a moment
// let the CRM fall seconds behind a steady 1,000 webhooks/s this machine could keep up with; while senders pressing
// as fast as they are answered left the batcher's backlog below the mark often enough, between two commits, that the
// workers went on at almost full speed and took half of ingest (docs/benchmarks.md, "Sixteenth session").
// Processes that take no webhooks (`--role worker`) never wait.
import type { Ctx } from '../services/context.js';
import { ingestPressure } from '../services/ingest/inbound-runtime.js';

/** Pressure (0 to 1) at or above which ingest comes first. Measured on a 2-core machine: 0.2-0.3 at a steady 1,000
 *  webhooks/s with peaks to about 0.67, 0.8-0.9 under 32 senders pressing as fast as they are answered. At 0.5 the
 *  peaks of steady traffic held the workers back and the CRM fell behind (receipt -> CRM row p99 0.5-1.4 s at
 *  1,000/s); at 0.75 it kept within 0.27-0.47 s, and pressing senders were answered as fast as before
 *  (docs/benchmarks.md, "Sixteenth session"). */
export const INGEST_PRESSED = 0.75;
const STEP_MS = 5;

/** Whether ingest is under pressure now (see above); never with SLUICE_INGEST_FIRST_MS=0, which turns ingest
 *  first off. */
export function ingestPressed(ctx: Ctx): boolean {
  return ctx.config.ingestFirstMs > 0 && ingestPressure(ctx) >= INGEST_PRESSED;
}

/** Rows of a batch that goes on while ingest is still under pressure, for batches of `batchSize` otherwise. On a
 *  2-core machine shared with 32 pressing senders, a full batch of 100 events went on every 340 ms and ran for about
 *  90 ms of them; with a quarter of that, the senders were answered 3-7 % faster in three alternated pairs of runs
 *  (docs/benchmarks.md, "Eighteenth session"). */
export function pressedBatchSize(batchSize: number): number {
  return Math.max(1, Math.ceil(batchSize / 4));
}

/** Whether another event batch may start beside those already running in this process: not under pressure. */
export function extraBatchMayStart(ctx: Ctx): boolean {
  return !ingestPressed(ctx);
}

/** When a worker of the process last went on while ingest was still under pressure (its wait ran out). */
const lastPressedPass = new WeakMap<Ctx, number>();

/**
 * Resolves once ingest is no longer under pressure, or once SLUICE_INGEST_FIRST_MS has passed both since this wait
 * began and since another worker of the process last went on under pressure; how long it waited (ms).
 */
export async function giveWayToIngest(ctx: Ctx): Promise<number> {
  if (!ingestPressed(ctx)) return 0;
  const limit = ctx.config.ingestFirstMs;
  const start = performance.now();
  let now = start;
  while (ingestPressed(ctx)) {
    const until = Math.max(start, lastPressedPass.get(ctx) ?? -Infinity) + limit;
    if (now >= until) {
      lastPressedPass.set(ctx, now);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(STEP_MS, until - now)));
    now = performance.now();
  }
  const waited = now - start;
  ctx.metrics.ingestFirstWaits.inc(waited / 1000);
  return waited;
}

/**
 * How many events the workers' next claim may take, with `running` batches of the process already running and
 * `limit` the usual batch: the first batch gives way to ingest for a bounded time (giveWayToIngest) and is small
 * when it goes on under pressure; further ones start only while ingest is not under pressure (0: not now).
 */
export async function eventClaimLimit(ctx: Ctx, running: number, limit: number): Promise<number> {
  if (running > 0) return extraBatchMayStart(ctx) ? limit : 0;
  await giveWayToIngest(ctx);
  return ingestPressed(ctx) ? pressedBatchSize(limit) : limit;
}
