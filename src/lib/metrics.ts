// In-process counters rendered in Prometheus' text format. Gauges that live in the database (events by
// status, lag) are read at scrape time by the metrics service instead of being kept here.

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.values) lines.push(`${this.name}${key ? `{${key}}` : ''} ${value}`);
    return lines.join('\n');
  }
}

export function renderGauge(name: string, help: string, samples: { labels: Labels; value: number }[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const s of samples) {
    const key = labelKey(s.labels);
    lines.push(`${name}${key ? `{${key}}` : ''} ${s.value}`);
  }
  return lines.join('\n');
}

export interface Metrics {
  httpRequests: Counter;
  inboundRejections: Counter;
  eventsStored: Counter;
  eventOutcomes: Counter;
  tieRefetches: Counter;
  deliveryAttempts: Counter;
}

export function createMetrics(): Metrics {
  return {
    httpRequests: new Counter('sluice_http_requests_total', 'HTTP requests answered, by route and status code'),
    inboundRejections: new Counter('sluice_inbound_rejections_total', 'Inbound webhooks rejected, by provider and reason'),
    eventsStored: new Counter('sluice_events_stored_total', 'Inbound events stored, by provider (duplicates not counted)'),
    eventOutcomes: new Counter('sluice_event_outcomes_total', 'Processing outcomes, by provider and outcome'),
    deliveryAttempts: new Counter('sluice_delivery_attempts_total', 'Outbound delivery attempts, by outcome'),
    tieRefetches: new Counter('sluice_tie_refetches_total', 'Objects fetched from a provider API to settle a same-second tie, by outcome'),
  };
}
