// The processing loop: claim due events in batches (FOR UPDATE SKIP LOCKED, so any number of workers on one
// PostgreSQL share the queue), process them one by one, and sleep until woken by a new event or the next
// poll. Nothing lives only in memory: a claim that dies with its process becomes due again when its lease
// expires (or at once on the next start, in embedded mode, where this process is the only worker).
import { newId } from '../lib/ids.js';
import { createWakeSleep } from '../lib/wake-sleep.js';
import type { Ctx } from '../services/context.js';
import { claimEvents, giveBackClaims, renewClaims } from '../services/processing/claim-events.js';
import { processEvent } from '../services/processing/process-event.js';

export interface EventWorker {
  readonly id: string;
  /** Look for work now instead of at the next poll. */
  wake(): void;
  /** Stop claiming, let the event in hand finish (bounded), give the rest of the batch back. */
  stop(timeoutMs: number): Promise<void>;
}

export function startEventWorker(ctx: Ctx): EventWorker {
  const id = newId('wrk', ctx.now());
  let running = true;
  let held: string[] = []; // claimed and not yet finished

  const waker = createWakeSleep();
  const sleep = waker.sleep;

  // Heartbeat: a batch may take longer than one lease (slow handlers, provider API calls); a live worker
  // keeps its claims, a dead one stops renewing and its events become due within one lease.
  const heartbeat = setInterval(
    () => {
      if (held.length === 0) return;
      renewClaims(ctx, id, held).catch((err: unknown) => ctx.log.warn({ err }, 'could not renew event claims'));
    },
    (ctx.config.workerLeaseSeconds * 1000) / 3,
  );
  heartbeat.unref();

  const loop = (async () => {
    while (running) {
      waker.clear();
      let batch;
      try {
        batch = await claimEvents(ctx, id);
      } catch (err) {
        ctx.log.error({ err }, 'event worker could not claim events; retrying in 1 s');
        await sleep(1000);
        continue;
      }
      if (batch.length === 0) {
        await sleep(ctx.config.workerPollMs);
        continue;
      }
      held = batch.map((e) => e.id);
      for (const event of batch) {
        if (!running) break;
        try {
          await processEvent(ctx, id, event);
        } catch (err) {
          // Only a store outage reaches here; the claim expires and the event is picked up again.
          ctx.log.error({ err, eventId: event.id }, 'event worker lost the database');
          await sleep(1000);
        }
        held = held.filter((h) => h !== event.id);
      }
      if (held.length > 0) {
        try {
          await giveBackClaims(ctx, id, held);
        } catch (err) {
          ctx.log.warn({ err }, 'could not release claims; they expire with their lease');
        }
        held = [];
      }
    }
  })().finally(() => clearInterval(heartbeat));

  return {
    id,
    wake: waker.wake,
    async stop(timeoutMs) {
      running = false;
      waker.stop();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const result = await Promise.race([loop.then(() => 'done' as const), timedOut]);
      clearTimeout(timer);
      if (result === 'timeout')
        ctx.log.warn({ held: held.length }, 'event worker did not finish in time; its claims expire with their lease');
    },
  };
}
