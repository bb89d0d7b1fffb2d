// Every kind of incident, as the API spells them (filters are checked against this list).
export const INCIDENT_KINDS = [
  'access_missing',
  'access_unpaid',
  'access_expired',
  'refunded_but_active',
  'duplicate_subscription',
  'entitlement_drift',
  'stuck_event',
  'webhook_lag',
  'processing_backlog',
  'webhook_missed',
  'scan_failed',
  'endpoint_disabled',
] as const;

export const INCIDENT_STATUSES = ['open', 'acknowledged', 'resolved', 'ignored'] as const;
