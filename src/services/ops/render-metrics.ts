import { countEventsByStatus, processingLag } from '../../db/queries/events.js';
import { renderGauge } from '../../lib/metrics.js';
import type { Ctx } from '../context.js';

/** Prometheus text: the process's counters plus queue gauges read from the database at scrape time. */
export async function renderMetrics(ctx: Ctx): Promise<string> {
  const [byStatus, lag] = await Promise.all([countEventsByStatus(ctx.db), processingLag(ctx.db, null)]);
  const mem = process.memoryUsage();
  return (
    [
      ctx.metrics.httpRequests.render(),
      ctx.metrics.inboundRejections.render(),
      ctx.metrics.eventsStored.render(),
      ctx.metrics.eventOutcomes.render(),
      renderGauge(
        'sluice_events',
        'Stored events, by provider and status',
        byStatus.map((r) => ({ labels: { provider: r.provider, status: r.status }, value: r.count })),
      ),
      renderGauge(
        'sluice_events_pending',
        'Events waiting to be processed',
        lag.map((r) => ({ labels: { provider: r.provider }, value: r.pending })),
      ),
      renderGauge(
        'sluice_event_processing_lag_seconds',
        'Age of the oldest event waiting to be processed',
        lag.map((r) => ({ labels: { provider: r.provider }, value: r.oldestPendingSeconds })),
      ),
      renderGauge('sluice_process_resident_memory_bytes', 'Resident set size of this process', [{ labels: {}, value: mem.rss }]),
      renderGauge('sluice_process_heap_used_bytes', 'V8 heap in use', [{ labels: {}, value: mem.heapUsed }]),
    ].join('\n\n') + '\n'
  );
}
