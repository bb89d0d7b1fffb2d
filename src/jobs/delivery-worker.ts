// The outbound loop: claim due deliveries (SKIP LOCKED, at most SLUICE_ENDPOINT_CONCURRENCY in flight per
// endpoint), send each as its own task so a slow receiver holds only its own slots, and claim again as slots
// free up. Claims are leased for longer than the send timeout, so a live sender never loses one and a dead
// one's come back within a lease (or at once on an embedded restart).
import { newId } from '../lib/ids.js';
import { createWakeSleep } from '../lib/wake-sleep.js';
import { attemptDelivery } from '../services/outbound/attempt-delivery.js';
import { claimDeliveries, createDeliverySender, giveBackDeliveries } from '../services/outbound/claim-deliveries.js';
import type { Ctx } from '../services/context.js';

export interface DeliveryWorker {
  readonly id: string;
  wake(): void;
  /** Stop claiming, let attempts in flight finish (bounded), give back what is left. */
  stop(timeoutMs: number): Promise<void>;
}

export function startDeliveryWorker(ctx: Ctx): DeliveryWorker {
  const id = newId('dwk', ctx.now());
  const sender = createDeliverySender(ctx);
  const inFlight = new Map<string, Promise<void>>();
  let running = true;

  const waker = createWakeSleep();
  const sleep = waker.sleep;
  const wake = waker.wake;

  const loop = (async () => {
    while (running) {
      waker.clear();
      const capacity = ctx.config.outboundConcurrency - inFlight.size;
      if (capacity <= 0) {
        await sleep(ctx.config.workerPollMs);
        continue;
      }
      let claimed;
      try {
        claimed = await claimDeliveries(ctx, id, capacity);
      } catch (err) {
        ctx.log.error({ err }, 'delivery worker could not claim deliveries; retrying in 1 s');
        await sleep(1000);
        continue;
      }
      for (const d of claimed) {
        const task = attemptDelivery(ctx, sender, id, d)
          .then(() => undefined)
          .catch((err: unknown) => {
            // The attempt could not be recorded (database gone): the claim expires and it is tried again.
            ctx.log.error({ err, deliveryId: d.id }, 'delivery attempt could not be recorded');
          })
          .finally(() => {
            inFlight.delete(d.id);
            wake();
          });
        inFlight.set(d.id, task);
      }
      // A full batch may mean more is due; otherwise wait for a wake-up (new message, a slot freed) or the poll.
      if (claimed.length < capacity) await sleep(ctx.config.workerPollMs);
    }
  })();

  return {
    id,
    wake,
    async stop(timeoutMs) {
      running = false;
      waker.stop();
      await loop;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const result = await Promise.race([Promise.all(inFlight.values()).then(() => 'done' as const), timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') {
        const left = [...inFlight.keys()];
        ctx.log.warn({ inFlight: left.length }, 'deliveries still in flight at shutdown are given back and will be sent again');
        await giveBackDeliveries(ctx, id, left).catch(() => undefined);
      }
      sender.close();
    },
  };
}
