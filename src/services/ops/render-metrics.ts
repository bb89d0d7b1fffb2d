import { countWaitingAndFailed, processingLag } from '../../db/queries/events.js';
import { countOpenIncidentsByKind } from '../../db/queries/incident-inbox.js';
import { deliveryQueueStats } from '../../db/queries/ops-metrics.js';
import { INCIDENT_KINDS } from '../incidents/incident-kinds.js';
import type { Ctx } from '../context.js';

/** Prometheus text: the process's counters and histograms plus queue gauges read from the database now. */
export async function renderMetrics(ctx: Ctx): Promise<{ contentType: string; body: string }> {
  const [byStatus, lag, deliveries, incidents] = await Promise.all([
    countWaitingAndFailed(ctx.db),
    processingLag(ctx.db, null),
    deliveryQueueStats(ctx.db),
    // From the partial index of live incidents: the count follows the live incidents, not the history.
    countOpenIncidentsByKind(ctx.db, null),
  ]);
  const m = ctx.metrics;
  // Reset first: a provider or status that vanished from the tables must not keep its last value.
  m.events.reset();
  for (const r of byStatus) m.events.set({ provider: r.provider, status: r.status }, r.count);
  m.eventsPending.reset();
  m.eventProcessingLag.reset();
  for (const r of lag) {
    m.eventsPending.set({ provider: r.provider }, r.pending);
    m.eventProcessingLag.set({ provider: r.provider }, r.oldestPendingSeconds);
  }
  m.deliveries.reset();
  // Every status is present, at 0 when none, so alerts on `sluice_deliveries{status="failed"}` have a series.
  for (const status of ['pending', 'succeeded', 'failed']) m.deliveries.set({ status }, 0);
  for (const r of deliveries.byStatus) m.deliveries.set({ status: r.status }, r.count);
  m.deliveriesOldestPending.set(deliveries.oldestPendingSeconds);
  m.incidentsOpen.reset();
  // Every kind is present, at 0 when none, so an alert on a kind has a series before its first incident.
  for (const kind of INCIDENT_KINDS) m.incidentsOpen.set({ kind }, 0);
  for (const r of incidents) m.incidentsOpen.set({ kind: r.kind }, r.count);
  return { contentType: m.registry.contentType, body: await m.registry.metrics() };
}
