// The outbound worker: the queue runner over the deliveries table, one attempt per claimed delivery, at most
// SLUICE_OUTBOUND_CONCURRENCY in flight per process and SLUICE_ENDPOINT_CONCURRENCY per endpoint (the claim
// counts every sender's claims), so a slow or dead receiver holds only its own slots while the others flow.
// Claims are leased for longer than the send timeout and renewed while held.
import { attemptDelivery } from '../services/outbound/attempt-delivery.js';
import {
  claimDeliveries,
  createDeliverySender,
  deliveryLeaseSeconds,
  giveBackDeliveries,
  giveBackInterruptedDeliveries,
  refreshDeliveryQueueStatistics,
  renewDeliveries,
} from '../services/outbound/claim-deliveries.js';
import type { Ctx } from '../services/context.js';
import { startQueueRunner, type QueueRunner } from './queue-runner.js';

export type DeliveryWorker = Pick<QueueRunner, 'id' | 'wake' | 'stop'>;

export function startDeliveryWorker(ctx: Ctx): DeliveryWorker {
  const sender = createDeliverySender(ctx);
  // Set once the stop's deadline has passed: an attempt still running then was given back with its attempt noted
  // as interrupted, and closing the sender ends its request; that it cannot be recorded (the store closes next) is
  // expected, not an error.
  let givenBack = false;
  const runner = startQueueRunner({
    name: 'deliveries',
    idPrefix: 'dwk',
    lanes: ctx.config.outboundConcurrency,
    batchSize: ctx.config.outboundConcurrency,
    pollMs: ctx.config.workerPollMs,
    renewEveryMs: (deliveryLeaseSeconds(ctx) * 1000) / 3,
    log: ctx.log,
    now: ctx.now,
    claim: (workerId, limit) => claimDeliveries(ctx, workerId, limit),
    renew: (workerId, ids) => renewDeliveries(ctx, workerId, ids),
    release: (workerId, ids) => giveBackDeliveries(ctx, workerId, [...ids]),
    maintain: () => refreshDeliveryQueueStatistics(ctx),
    work: {
      mode: 'each',
      run: async (workerId, delivery, freed) => {
        try {
          await attemptDelivery(ctx, sender, workerId, delivery, freed);
        } catch (err) {
          if (!givenBack) throw err;
          ctx.log.debug({ err, deliveryId: delivery.id }, 'a delivery given back at the stop could not be recorded after it');
        }
      },
    },
    // Nothing holds a delivery locked while its request is out: what is left at the deadline is given back, each
    // attempt noted as interrupted (the receiver may have had the request) and still counted.
    releaseAtDeadline: true,
    releaseAtDeadlineWith: (workerId, ids) => giveBackInterruptedDeliveries(ctx, workerId, ids),
  });
  return {
    id: runner.id,
    wake: runner.wake,
    async stop(timeoutMs) {
      await runner.stop(timeoutMs);
      givenBack = true;
      sender.close();
    },
  };
}
