// Ingest first. With `--role all` the API and the event worker share one Node thread and one machine. Under a
// burst of webhooks, every batch the worker projects is CPU taken from answering the senders, who wait for their
// 200 (and a provider that waits too long retries, adding to the burst). Projection can wait; an answer should
// not. So before claiming a batch while no other batch of the process runs, a worker looks at the webhooks of its
// own process still waiting for their commit, and while there are many it holds back, for at most
// SLUICE_INGEST_FIRST_MS per batch: the projection keeps going under a burst that never ends, and catches up at
// full speed when the burst is over. The bound is
// per process, not per worker: while ingest is behind, the process's event workers together take one batch per
// that time, not one each. Processes that take no webhooks (`--role worker`) never wait.
//
// Beyond the first, event batches are extra capacity for when the webhooks leave CPU to spare: a second batch
// starts beside a running one only once no burst of webhooks has arrived for BURST_QUIET_MS. Under steady
// traffic the extra workers keep the CRM current; under a burst they stand aside entirely, and the first worker
// alone takes its bounded share. (Two workers that both took their share cost a quarter to two fifths of peak
// ingest on 2 cores: docs/benchmarks.md, "Two event workers".)
import type { Ctx } from '../services/context.js';
import { ingestBacklog, lastIngestBurst } from '../services/ingest/inbound-runtime.js';

/**
 * Webhooks waiting for their commit at or above which ingest counts as behind. A group commit takes a few
 * milliseconds and takes every request waiting for it, so steady traffic leaves only a few waiting at once.
 */
export const INGEST_BEHIND = 8;
const STEP_MS = 5;

/** How long after the last burst of webhooks (services/ingest/event-batcher.ts, BURST_BACKLOG) a second event batch
 *  may start beside a running one: longer than one batch, so that a burst slowed by the first worker's batch does
 *  not look over while that batch runs. */
export const BURST_QUIET_MS = 250;

/** Whether another event batch may start beside those already running in this process (see above); always
 *  with SLUICE_INGEST_FIRST_MS=0, which turns ingest first off. */
export function extraBatchMayStart(ctx: Ctx): boolean {
  return ctx.config.ingestFirstMs <= 0 || performance.now() - lastIngestBurst(ctx) >= BURST_QUIET_MS;
}

/** When a worker of the process last went on while ingest was still behind (its wait ran out). */
const lastBurstPass = new WeakMap<Ctx, number>();

/**
 * Resolves once ingest has caught up, or once SLUICE_INGEST_FIRST_MS has passed both since this wait began and
 * since another worker of the process last went on under the burst; how long it waited (ms).
 */
export async function giveWayToIngest(ctx: Ctx): Promise<number> {
  const limit = ctx.config.ingestFirstMs;
  if (limit <= 0 || ingestBacklog(ctx) < INGEST_BEHIND) return 0;
  const start = performance.now();
  let now = start;
  while (ingestBacklog(ctx) >= INGEST_BEHIND) {
    const until = Math.max(start, lastBurstPass.get(ctx) ?? -Infinity) + limit;
    if (now >= until) {
      lastBurstPass.set(ctx, now);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(STEP_MS, until - now)));
    now = performance.now();
  }
  const waited = now - start;
  ctx.metrics.ingestFirstWaits.inc(waited / 1000);
  return waited;
}
