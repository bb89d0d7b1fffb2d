// Prometheus metrics from prom-client. Each app instance owns its registry (tests build many apps in one
// process, and prom-client's global registry would refuse the second set of names). Gauges that live in the
// database (events and deliveries by status, lag) are set at scrape time by the metrics service.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'status'>;
  httpDuration: Histogram<'route'>;
  inboundRejections: Counter<'provider' | 'reason'>;
  eventsStored: Counter<'provider'>;
  eventOutcomes: Counter<'provider' | 'outcome'>;
  tieRefetches: Counter<'outcome'>;
  /** Event batches run a second time, with a savepoint per event, because an event of the first run failed. */
  eventBatchReruns: Counter;
  /** Seconds event workers held back before claiming, because webhooks of their process waited for a commit. */
  ingestFirstWaits: Counter;
  /** Events a reconciliation scan found at the provider that never arrived as webhooks. */
  scanRecoveredEvents: Counter<'provider'>;
  deliveryAttempts: Counter<'outcome'>;
  /** Inbound webhook request → acknowledgement, seconds. */
  ingestDuration: Histogram<'provider' | 'status'>;
  /** Event stored → processed, seconds: how far behind the CRM and the outbound messages are. */
  processingDuration: Histogram<'provider' | 'outcome'>;
  /** One outbound attempt, request to answer (or failure), seconds. */
  deliveryDuration: Histogram<'outcome'>;
  events: Gauge<'provider' | 'status'>;
  eventsPending: Gauge<'provider'>;
  eventProcessingLag: Gauge<'provider'>;
  deliveries: Gauge<'status'>;
  deliveriesOldestPending: Gauge;
  /** Open and acknowledged incidents by kind (ignored ones are suppressed), set at scrape time. */
  incidentsOpen: Gauge<'kind'>;
  /** Provider created → received by Sluice, seconds, observed at ingest (Stripe: `created` is the event's time). */
  webhookDeliveryLag: Histogram<'provider'>;
  /** Workflow runs reaching a final status (succeeded, failed) or recorded as filtered; a rerun counts again. */
  workflowRuns: Counter<'status'>;
  /** Failed attempts of workflow steps, by step kind (a retried attempt counts each time). */
  workflowStepFailures: Counter<'kind'>;
  /** Trigger message published → the run's first step started, seconds (live runs only, not replays). */
  workflowTriggerLag: Histogram;
}

// From a loopback ack (~1 ms) to a receiver at the 15 s default timeout.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// Processing waits behind retries scheduled minutes to hours apart.
const LAG_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000];

// Webhook delivery lag: a second on a good day, minutes when the provider queues, days for Stripe's retries
// (it retries a failed delivery for up to three days).
const DELIVERY_LAG_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400, 3 * 86400];

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  // Process CPU, memory, event-loop lag, GC: what an operator looks at first when latency grows.
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) => new Gauge<L>({ name, help, labelNames, registers });
  return {
    registry,
    httpRequests: counter('sluice_http_requests_total', 'HTTP requests answered, by route and status code', ['route', 'status']),
    httpDuration: histogram('sluice_http_request_duration_seconds', 'HTTP request to answer, by route', ['route'], LATENCY_BUCKETS),
    inboundRejections: counter('sluice_inbound_rejections_total', 'Inbound webhooks rejected, by provider and reason', [
      'provider',
      'reason',
    ]),
    eventsStored: counter('sluice_events_stored_total', 'Inbound events stored, by provider (duplicates not counted)', ['provider']),
    eventOutcomes: counter('sluice_event_outcomes_total', 'Event outcomes (processing, or settled at ingest), by provider and outcome', [
      'provider',
      'outcome',
    ]),
    deliveryAttempts: counter('sluice_delivery_attempts_total', 'Outbound delivery attempts, by outcome', ['outcome']),
    tieRefetches: counter('sluice_tie_refetches_total', 'Objects fetched from a provider API to settle a same-second tie, by outcome', [
      'outcome',
    ]),
    eventBatchReruns: counter(
      'sluice_event_batch_reruns_total',
      'Event batches run again with a savepoint per event because one of their events failed (or needs a refetch)',
      [],
    ),
    ingestFirstWaits: counter(
      'sluice_ingest_first_wait_seconds_total',
      'Seconds event workers held back before a claim because webhooks of the same process were waiting for their commit',
      [],
    ),
    scanRecoveredEvents: counter(
      'sluice_scan_recovered_events_total',
      'Events a reconciliation scan found at the provider that never arrived as webhooks, by provider',
      ['provider'],
    ),
    ingestDuration: histogram(
      'sluice_ingest_duration_seconds',
      'Inbound webhook request to acknowledgement, by provider and status code',
      ['provider', 'status'],
      LATENCY_BUCKETS,
    ),
    processingDuration: histogram(
      'sluice_processing_duration_seconds',
      'Event stored to processed (queue wait included), by provider and outcome',
      ['provider', 'outcome'],
      LAG_BUCKETS,
    ),
    deliveryDuration: histogram(
      'sluice_delivery_duration_seconds',
      'One outbound delivery attempt, by outcome',
      ['outcome'],
      LATENCY_BUCKETS,
    ),
    events: gauge('sluice_events', 'Stored events waiting (received) or failed, by provider and status', ['provider', 'status']),
    eventsPending: gauge('sluice_events_pending', 'Events waiting to be processed', ['provider']),
    eventProcessingLag: gauge('sluice_event_processing_lag_seconds', 'Age of the oldest event waiting to be processed', ['provider']),
    deliveries: gauge('sluice_deliveries', 'Outbound deliveries, by status', ['status']),
    deliveriesOldestPending: gauge('sluice_deliveries_oldest_pending_seconds', 'Age of the oldest delivery still pending', []),
    incidentsOpen: gauge('sluice_incidents_open', 'Open and acknowledged incidents, every workspace, by kind', ['kind']),
    webhookDeliveryLag: histogram(
      'sluice_webhook_delivery_lag_seconds',
      "Provider's event time to receipt by Sluice (Stripe `created`), by provider; observed once per new event",
      ['provider'],
      DELIVERY_LAG_BUCKETS,
    ),
    workflowRuns: counter('sluice_workflow_runs_total', 'Workflow runs reaching succeeded or failed, or recorded as filtered, by status', [
      'status',
    ]),
    workflowStepFailures: counter('sluice_workflow_step_failures_total', 'Failed workflow step attempts, by step kind', ['kind']),
    workflowTriggerLag: histogram(
      'sluice_workflow_trigger_lag_seconds',
      'Trigger message published to the first step of its run started (live runs)',
      [],
      LAG_BUCKETS,
    ),
  };
}
