import type { Metrics } from '../../lib/metrics.js';

const WEBHOOK_ROUTE = /^\/webhooks\/([a-z]+)\//;

/** Every answer's duration by route; inbound webhooks also as the ingest latency (request → ack) per provider. */
export function observeRequestDuration(metrics: Metrics, route: string | undefined, status: number, elapsedMs: number): void {
  const seconds = elapsedMs / 1000;
  metrics.httpDuration.observe({ route: route ?? 'unmatched' }, seconds);
  const provider = route ? WEBHOOK_ROUTE.exec(route)?.[1] : undefined;
  if (provider) metrics.ingestDuration.observe({ provider, status: String(status) }, seconds);
}
