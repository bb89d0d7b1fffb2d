// The queue verbs the delivery worker uses (claims spread over endpoints, see DELIVERY_QUEUE), and the HTTP sender it sends with; kept behind a service so the
// worker loop holds no SQL and no transport.
import {
  claimDueDeliveries,
  DELIVERY_QUEUE,
  interruptDeliveryClaims,
  recordInterruptedAttempts,
  releaseAllDeliveryClaims,
  releaseDeliveryClaims,
  type ClaimedDelivery,
} from '../../db/queries/deliveries.js';
import { refreshQueueStatistics, renewLeases } from '../../db/queries/queue.js';
import { createAddressPolicy } from '../../outbound/address-policy.js';
import { createSender, type Sender } from '../../outbound/send.js';
import { deliveriesBeingRecorded } from './attempt-delivery.js';
import type { Ctx } from '../context.js';

/** A claim outlives the longest possible attempt, so a live sender never loses one mid-request. */
export function deliveryLeaseSeconds(ctx: Ctx): number {
  return Math.ceil(ctx.config.outboundTimeoutMs / 1000) + 30;
}

export async function claimDeliveries(ctx: Ctx, workerId: string, limit: number): Promise<ClaimedDelivery[]> {
  const claimed = await claimDueDeliveries(ctx.db, {
    workerId,
    limit,
    perEndpoint: ctx.config.endpointConcurrency,
    notInFlight: deliveriesBeingRecorded(ctx),
    leaseSeconds: deliveryLeaseSeconds(ctx),
  });
  const takenOver = claimed.filter((d) => d.takenOver);
  if (takenOver.length > 0) await noteInterrupted(ctx, takenOver, 'took over deliveries whose sender stopped mid-attempt');
  return claimed;
}

/**
 * Notes the attempt a stopped sender never recorded, before the next one starts: the delivery's history then
 * matches its attempt count and shows that the receiver may have had the webhook already. The claim is kept if
 * the note cannot be written: it is a record, the delivery does not depend on it.
 */
async function noteInterrupted(ctx: Ctx, deliveries: { id: string; endpointId: string }[], msg: string): Promise<void> {
  try {
    await recordInterruptedAttempts(ctx.db, deliveries, ctx.now());
    ctx.metrics.deliveryAttempts.inc({ outcome: 'interrupted' }, deliveries.length);
    ctx.log.warn({ deliveries: deliveries.length }, msg);
  } catch (err) {
    ctx.log.warn({ err, deliveries: deliveries.length }, `${msg}; could not note their interrupted attempts`);
  }
}

/** Heartbeat: a claim whose attempt is slow to record (a busy database) stays this sender's. */
export function renewDeliveries(ctx: Ctx, workerId: string, ids: readonly string[]): Promise<void> {
  return renewLeases(ctx.db, DELIVERY_QUEUE, workerId, ids, deliveryLeaseSeconds(ctx));
}

/** Keeps the planner's picture of the deliveries queue current (see refreshQueueStatistics). */
export function refreshDeliveryQueueStatistics(ctx: Ctx): Promise<boolean> {
  return refreshQueueStatistics(ctx.db, DELIVERY_QUEUE);
}

export function giveBackDeliveries(ctx: Ctx, workerId: string, ids: string[]): Promise<void> {
  return releaseDeliveryClaims(ctx.db, workerId, ids);
}

/**
 * At a stop's deadline: the deliveries still held had their request out (the receiver may have it), so each one's
 * attempt is noted as interrupted and stays counted, as after a crash, and its claim is freed. Those whose request
 * has ended and whose attempt is being recorded are left to that record (or, if the store closes first, to their
 * lease).
 */
export async function giveBackInterruptedDeliveries(ctx: Ctx, workerId: string, ids: readonly string[]): Promise<void> {
  const recording = new Set(deliveriesBeingRecorded(ctx));
  const freed = await interruptDeliveryClaims(
    ctx.db,
    workerId,
    ids.filter((id) => !recording.has(id)),
    ctx.now(),
  );
  if (freed > 0) {
    ctx.metrics.deliveryAttempts.inc({ outcome: 'interrupted' }, freed);
    ctx.log.warn(
      { deliveries: freed },
      'stopping: deliveries whose receiver had not answered are given back, their attempts noted as interrupted',
    );
  }
}

/** Frees every delivery claim, noting each one's interrupted attempt; only for the embedded database, where this
 *  process is the sole sender and any claim left is a dead run's. */
export async function releaseOrphanedDeliveries(ctx: Ctx): Promise<number> {
  const freed = await releaseAllDeliveryClaims(ctx.db);
  if (freed.length > 0) await noteInterrupted(ctx, freed, 'released delivery claims left by the previous run');
  return freed.length;
}

export function createDeliverySender(ctx: Ctx): Sender {
  return createSender(createAddressPolicy(ctx.config.outboundAllow, { allowHttp: ctx.config.outboundAllowHttp }), {
    timeoutMs: ctx.config.outboundTimeoutMs,
    // As many connections per origin as requests out at once: every lane may go to one origin (each Zap is a URL on
    // hooks.zapier.com), and a request waiting for a connection would spend its attempt's time in that queue.
    connectionsPerOrigin: ctx.config.outboundConcurrency,
  });
}
