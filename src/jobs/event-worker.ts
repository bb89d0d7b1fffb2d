// The processing worker: the queue runner over the events table, SLUICE_EVENT_WORKERS batches at a time, each
// batch of up to SLUICE_WORKER_BATCH events projected in one transaction (services/processing/process-batch).
// Any number of processes on one PostgreSQL share the queue (claims skip locked rows).
import type { Ctx } from '../services/context.js';
import { claimEvents, giveBackClaims, refreshEventQueueStatistics, renewClaims } from '../services/processing/claim-events.js';
import { processBatch } from '../services/processing/process-batch.js';
import { eventClaimLimit } from './ingest-first.js';
import { startQueueRunner, type QueueRunner } from './queue-runner.js';

export type EventWorker = Pick<QueueRunner, 'id' | 'wake' | 'stop'>;

export function startEventWorker(ctx: Ctx): EventWorker {
  return startQueueRunner({
    name: 'events',
    idPrefix: 'wrk',
    lanes: ctx.config.eventWorkers,
    batchSize: ctx.config.workerBatchSize,
    pollMs: ctx.config.workerPollMs,
    renewEveryMs: (ctx.config.workerLeaseSeconds * 1000) / 3,
    log: ctx.log,
    now: ctx.now,
    claim: (workerId, limit) => claimEvents(ctx, workerId, limit),
    // Webhooks of the process come first: see jobs/ingest-first.ts.
    beforeClaim: (running, limit) => eventClaimLimit(ctx, running, limit),
    renew: (workerId, ids) => renewClaims(ctx, workerId, ids),
    release: (workerId, ids) => giveBackClaims(ctx, workerId, ids),
    maintain: () => refreshEventQueueStatistics(ctx),
    work: {
      mode: 'batch',
      run: async (workerId, batch) => {
        await processBatch(ctx, workerId, batch);
      },
    },
    // A batch holds its events row-locked until it commits: a release would only wait for it.
    releaseAtDeadline: false,
  });
}
