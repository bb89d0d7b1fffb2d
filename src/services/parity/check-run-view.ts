// A check or scan run as the API, the CLI and the console show it.
import type { CheckRunRow } from '../../db/queries/check-runs.js';

/** Run ids start with this (chk_…). */
export const CHECK_RUN_PREFIX = 'chk';

export interface FindingView {
  kind: string;
  subject: string;
  key: string | null;
  expected: string;
  actual: string;
  rule: string;
  evidence?: { subscriptionIds?: string[]; accessIds?: string[]; eventIds?: string[] };
}

export interface CheckRunView {
  id: string;
  kind: 'check' | 'scan';
  trigger: string;
  status: string;
  scope: Record<string, unknown>;
  /** customers checked, findings by kind, incidents opened and resolved, repairs, (scans) events recovered … */
  counts: Record<string, unknown>;
  findings: FindingView[];
  /** More findings were found than a run keeps (the incidents hold them all). */
  findingsTruncated: boolean;
  progress: Record<string, unknown>;
  /** Events a scan found that never arrived (stored `recovered`). */
  recoveredEvents: unknown[];
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

/** A finding as stored with a run and shown by the API (the key null rather than absent). */
export function findingView(f: {
  kind: string;
  subject: string;
  key?: string | null;
  expected: string;
  actual: string;
  rule: string;
  evidence?: FindingView['evidence'];
}): FindingView {
  return {
    kind: f.kind,
    subject: f.subject,
    key: f.key ?? null,
    expected: f.expected,
    actual: f.actual,
    rule: f.rule,
    ...(f.evidence ? { evidence: f.evidence } : {}),
  };
}

export function findingsTotal(counts: Record<string, unknown>): number {
  const f = counts.findings;
  if (typeof f === 'number') return f;
  if (f && typeof f === 'object') return Object.values(f).reduce<number>((n, v) => n + (typeof v === 'number' ? v : 0), 0);
  return 0;
}

export function checkRunView(row: CheckRunRow): CheckRunView {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  const findings = Array.isArray(row.findings) ? (row.findings as unknown as FindingView[]) : [];
  const recovered = row.progress?.recoveredEvents ?? row.counts?.recoveredEventIds;
  return {
    id: row.id,
    kind: row.kind,
    trigger: row.trigger,
    status: row.status,
    scope: row.scope ?? {},
    counts: row.counts ?? {},
    findings: findings.map(findingView),
    findingsTruncated: findingsTotal(row.counts ?? {}) > findings.length,
    progress: row.progress ?? {},
    recoveredEvents: Array.isArray(recovered) ? recovered : [],
    error: row.error,
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    durationMs: row.finished_at ? row.finished_at.getTime() - (row.started_at ?? row.created_at).getTime() : null,
  };
}
