// The incident inbox: lists and counts of incidents, the transitions people make by hand, and the live lag and
// backlog incidents the lag sample reads. Raising, folding and resolving by the system are in incidents.ts.
import type { Queryable } from '../port.js';
import type { IncidentRow, IncidentStatus } from './incidents.js';

export interface IncidentFilter {
  workspaceId: string;
  statuses: readonly IncidentStatus[];
  kinds?: readonly string[] | undefined;
  subject?: string | undefined;
  /** Only ids below this one (the previous page's last). */
  before?: string | undefined;
  limit: number;
}

/**
 * Newest first, keyset-paged by id (ids start with their creation time). One range of the (workspace, status,
 * id) index per status asked for, merged: each stops after `limit` rows, wherever the cursor is.
 */
export async function listIncidentsPage(db: Queryable, f: IncidentFilter): Promise<IncidentRow[]> {
  const params: unknown[] = [f.workspaceId, f.limit];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where: string[] = [];
  if (f.kinds && f.kinds.length > 0) where.push(`kind = ANY(${p(f.kinds)}::text[])`);
  if (f.subject !== undefined) where.push(`subject = ${p(f.subject)}`);
  if (f.before !== undefined) where.push(`id < ${p(f.before)}`);
  const branch = (status: IncidentStatus) =>
    `(SELECT * FROM incidents WHERE workspace_id = $1 AND status = ${p(status)}${where.map((w) => ` AND ${w}`).join('')}
      ORDER BY id DESC LIMIT $2)`;
  const sql =
    f.statuses.length === 1
      ? branch(f.statuses[0]!)
      : `SELECT * FROM (${f.statuses.map(branch).join(' UNION ALL ')}) page ORDER BY id DESC LIMIT $2`;
  const { rows } = await db.query<IncidentRow>(sql, params);
  return rows;
}

/** Open and acknowledged incidents by kind, of one workspace or (null) of all: ignored ones are suppressed. */
export async function countOpenIncidentsByKind(db: Queryable, workspaceId: string | null): Promise<{ kind: string; count: number }[]> {
  const { rows } = await db.query<{ kind: string; count: number }>(
    `SELECT kind, count(*)::int AS count FROM incidents
     WHERE status IN ('open', 'acknowledged') AND ($1::text IS NULL OR workspace_id = $1) GROUP BY kind ORDER BY kind`,
    [workspaceId],
  );
  return rows;
}

/** The live incident of a key other than `exceptId` (a reopen would collide with it). */
export async function findOtherLiveIncident(
  db: Queryable,
  workspaceId: string,
  dedupKey: string,
  exceptId: string,
): Promise<IncidentRow | undefined> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE workspace_id = $1 AND dedup_key = $2 AND id <> $3
       AND status IN ('open', 'acknowledged', 'ignored') LIMIT 1`,
    [workspaceId, dedupKey, exceptId],
  );
  return rows[0];
}

/** A transition made by hand: acknowledge or ignore (resolve goes through resolveIncidentRow). */
export async function setIncidentStatusByHand(
  db: Queryable,
  id: string,
  status: 'acknowledged' | 'ignored',
  by: string,
  at: Date,
): Promise<IncidentRow> {
  const sql =
    status === 'acknowledged'
      ? `UPDATE incidents SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $2 WHERE id = $1 RETURNING *`
      : `UPDATE incidents SET status = 'ignored', ignored_at = $3, ignored_by = $2 WHERE id = $1 RETURNING *`;
  const { rows } = await db.query<IncidentRow>(sql, [id, by, at]);
  return rows[0]!;
}

/** Open again as if new: what was recorded of its last acknowledgement, resolve or ignore no longer describes it. */
export async function reopenIncidentRow(db: Queryable, id: string, at: Date): Promise<IncidentRow> {
  const { rows } = await db.query<IncidentRow>(
    `UPDATE incidents SET status = 'open', acknowledged_at = NULL, acknowledged_by = NULL, resolved_at = NULL,
       resolved_by = NULL, ignored_at = NULL, ignored_by = NULL, last_seen_at = GREATEST(last_seen_at, $2)
     WHERE id = $1 RETURNING *`,
    [id, at],
  );
  return rows[0]!;
}

/** Replaces the details of an incident without counting an occurrence (the lag sample's hysteresis state). */
export async function setIncidentDetails(db: Queryable, id: string, details: Record<string, unknown>): Promise<void> {
  await db.query(`UPDATE incidents SET details = $2 WHERE id = $1`, [id, JSON.stringify(details)]);
}

/** The live incidents of these kinds in every workspace (read from the partial index of live incidents). */
export async function liveIncidentsOfKinds(db: Queryable, kinds: readonly string[]): Promise<IncidentRow[]> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE kind = ANY($1::text[]) AND status IN ('open', 'acknowledged', 'ignored') ORDER BY id`,
    [kinds],
  );
  return rows;
}

export interface LastScanRow {
  id: string;
  provider: string | null;
  status: string;
  finished_at: Date | null;
  created_at: Date;
}

/** The newest scan run of a workspace, whatever its state. */
export async function lastScanRun(db: Queryable, workspaceId: string): Promise<LastScanRow | undefined> {
  const { rows } = await db.query<LastScanRow>(
    `SELECT id, scope->>'provider' AS provider, status, finished_at, created_at FROM check_runs
     WHERE workspace_id = $1 AND kind = 'scan' ORDER BY created_at DESC, id DESC LIMIT 1`,
    [workspaceId],
  );
  return rows[0];
}
