// An incident as the API, the console and the outbound `incident.*` messages show it.
import type { IncidentRow } from '../../db/queries/incidents.js';

export interface IncidentView {
  id: string;
  kind: string;
  severity: string;
  status: string;
  dedupKey: string;
  subject: string;
  title: string;
  details: Record<string, unknown>;
  evidence: Record<string, unknown>;
  occurrences: number;
  endpointId: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  ignoredAt: string | null;
  ignoredBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  previousId: string | null;
}

export function incidentView(row: IncidentRow): IncidentView {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: row.id,
    kind: row.kind,
    severity: row.severity,
    status: row.status,
    dedupKey: row.dedup_key,
    subject: row.subject,
    title: row.title,
    details: row.details,
    evidence: row.evidence,
    occurrences: row.occurrences,
    endpointId: row.endpoint_id,
    firstSeenAt: row.first_seen_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    acknowledgedAt: iso(row.acknowledged_at),
    acknowledgedBy: row.acknowledged_by ?? null,
    ignoredAt: iso(row.ignored_at ?? null),
    ignoredBy: row.ignored_by ?? null,
    resolvedAt: iso(row.resolved_at),
    resolvedBy: row.resolved_by,
    previousId: row.previous_id,
  };
}
