// Incidents of every kind: findings of the parity checks, lag and backlog, missed webhooks, failed scans, a
// disabled endpoint. One live incident (open, acknowledged or ignored) per (workspace, dedup key), held by a
// unique partial index, so two checks raising the same fact at once fold into one row.
import type { Queryable } from '../port.js';

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved' | 'ignored';
export type IncidentSeverity = 'info' | 'warning' | 'critical';

export interface IncidentRow {
  id: string;
  workspace_id: string;
  endpoint_id: string | null;
  kind: string;
  severity: IncidentSeverity;
  status: IncidentStatus;
  dedup_key: string;
  subject: string;
  title: string;
  detail: string | null;
  details: Record<string, unknown>;
  evidence: Record<string, unknown>;
  occurrences: number;
  first_seen_at: Date;
  last_seen_at: Date;
  opened_at: Date;
  acknowledged_at: Date | null;
  /** Who acknowledged or ignored it by hand (migration 0019). */
  acknowledged_by: string | null;
  ignored_at: Date | null;
  ignored_by: string | null;
  resolved_at: Date | null;
  resolved_by: string | null;
  previous_id: string | null;
}

export interface IncidentInput {
  id: string;
  workspaceId: string;
  kind: string;
  severity: IncidentSeverity;
  dedupKey: string;
  subject: string;
  title: string;
  details: Record<string, unknown>;
  evidence: Record<string, unknown>;
  endpointId?: string | null;
  at: Date;
}

export const LIVE_STATUSES: readonly IncidentStatus[] = ['open', 'acknowledged', 'ignored'];

/**
 * Opens an incident for the key, or folds the occurrence into the live one (occurrences + 1, last seen, the
 * newest details and evidence). `opened` is true only when a new row was written. A key resolved before opens
 * a new row linked to the newest resolved one.
 */
export async function openOrFoldIncident(db: Queryable, i: IncidentInput): Promise<{ row: IncidentRow; opened: boolean }> {
  // Fold first: the common case (a standing problem seen again) is one UPDATE.
  const folded = await db.query<IncidentRow>(
    `UPDATE incidents SET occurrences = occurrences + 1, last_seen_at = GREATEST(last_seen_at, $3),
       details = $4, evidence = $5, title = $6
     WHERE workspace_id = $1 AND dedup_key = $2 AND status IN ('open', 'acknowledged', 'ignored')
     RETURNING *`,
    [i.workspaceId, i.dedupKey, i.at, JSON.stringify(i.details), JSON.stringify(i.evidence), i.title],
  );
  if (folded.rows[0]) return { row: folded.rows[0], opened: false };
  const inserted = await db.query<IncidentRow>(
    `INSERT INTO incidents (id, workspace_id, endpoint_id, kind, severity, status, dedup_key, subject, title, detail, details,
       evidence, occurrences, first_seen_at, last_seen_at, opened_at, previous_id)
     VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $8, $9, $10, 1, $11, $11, $11,
       (SELECT id FROM incidents WHERE workspace_id = $2 AND dedup_key = $6 AND status = 'resolved'
         ORDER BY resolved_at DESC NULLS LAST, id DESC LIMIT 1))
     ON CONFLICT (workspace_id, dedup_key) WHERE status IN ('open', 'acknowledged', 'ignored') DO NOTHING
     RETURNING *`,
    [
      i.id,
      i.workspaceId,
      i.endpointId ?? null,
      i.kind,
      i.severity,
      i.dedupKey,
      i.subject,
      i.title,
      JSON.stringify(i.details),
      JSON.stringify(i.evidence),
      i.at,
    ],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], opened: true };
  // Another transaction opened it between the two statements: fold into that one.
  return openOrFoldIncident(db, i);
}

/** Moves a live incident to resolved; undefined when there is none for the key. */
export async function resolveIncidentByKey(
  db: Queryable,
  workspaceId: string,
  dedupKey: string,
  by: string,
  at: Date,
): Promise<IncidentRow | undefined> {
  const { rows } = await db.query<IncidentRow>(
    `UPDATE incidents SET status = 'resolved', resolved_at = $4, resolved_by = $3
     WHERE workspace_id = $1 AND dedup_key = $2 AND status IN ('open', 'acknowledged') RETURNING *`,
    [workspaceId, dedupKey, by, at],
  );
  return rows[0];
}

/** The open and acknowledged incidents of a subject, of these kinds (auto-resolve candidates). */
export async function openIncidentsOfSubject(
  db: Queryable,
  workspaceId: string,
  subject: string,
  kinds: readonly string[],
): Promise<IncidentRow[]> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE workspace_id = $1 AND subject = $2 AND kind = ANY($3::text[])
       AND status IN ('open', 'acknowledged') ORDER BY id FOR UPDATE`,
    [workspaceId, subject, kinds],
  );
  return rows;
}

export async function findIncident(db: Queryable, workspaceId: string, id: string, forUpdate = false): Promise<IncidentRow | undefined> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE workspace_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [workspaceId, id],
  );
  return rows[0];
}

/** Sets a status by hand (acknowledge, resolve, ignore, reopen). */
export async function setIncidentStatus(
  db: Queryable,
  id: string,
  status: IncidentStatus,
  by: string | null,
  at: Date,
): Promise<IncidentRow> {
  const { rows } = await db.query<IncidentRow>(
    `UPDATE incidents SET status = $2,
       acknowledged_at = CASE WHEN $2 = 'acknowledged' THEN $4 ELSE acknowledged_at END,
       resolved_at = CASE WHEN $2 = 'resolved' THEN $4 WHEN $2 IN ('open', 'acknowledged') THEN NULL ELSE resolved_at END,
       resolved_by = CASE WHEN $2 = 'resolved' THEN $3 WHEN $2 IN ('open', 'acknowledged') THEN NULL ELSE resolved_by END
     WHERE id = $1 RETURNING *`,
    [id, status, by, at],
  );
  return rows[0]!;
}

/** The open incidents of an endpoint (it was re-enabled). */
export async function openEndpointIncidents(db: Queryable, endpointId: string): Promise<IncidentRow[]> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE endpoint_id = $1 AND status IN ('open', 'acknowledged') ORDER BY id FOR UPDATE`,
    [endpointId],
  );
  return rows;
}

/** Live incidents, newest activity first (the health view). */
export async function listIncidents(db: Queryable, workspaceId: string, limit: number): Promise<IncidentRow[]> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE workspace_id = $1 AND status IN ('open', 'acknowledged')
     ORDER BY last_seen_at DESC, id DESC LIMIT $2`,
    [workspaceId, limit],
  );
  return rows;
}
