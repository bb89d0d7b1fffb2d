// Reconciliation scans: their runs (rows of check_runs with kind 'scan'), where each got to, which instance runs
// it, the per-provider state the next scan starts from, and what the comparison with the CRM needs to read.
import type { Queryable } from '../port.js';
import type { CrmRow } from './crm.js';

export interface ScanRunRow {
  id: string;
  workspace_id: string;
  kind: string;
  trigger: string;
  scope: Record<string, unknown>;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  counts: Record<string, unknown>;
  findings: unknown[];
  progress: Record<string, unknown>;
  error: string | null;
  owner: string | null;
  heartbeat_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const LIVE = `kind = 'scan' AND status IN ('queued', 'running')`;

/** Inserts a queued scan run unless the workspace already has a live one; returns the new row or undefined. */
export async function insertScanRun(
  db: Queryable,
  r: { id: string; workspaceId: string; scope: Record<string, unknown>; progress: Record<string, unknown>; owner: string; at: Date },
): Promise<ScanRunRow | undefined> {
  const { rows } = await db.query<ScanRunRow>(
    `INSERT INTO check_runs (id, workspace_id, kind, trigger, scope, status, progress, owner, heartbeat_at, created_at)
     VALUES ($1, $2, 'scan', 'scan', $3, 'queued', $4, $5, $6, $6)
     ON CONFLICT (workspace_id) WHERE ${LIVE} DO NOTHING RETURNING *`,
    [r.id, r.workspaceId, JSON.stringify(r.scope), JSON.stringify(r.progress), r.owner, r.at],
  );
  return rows[0];
}

export async function findLiveScan(db: Queryable, workspaceId: string): Promise<ScanRunRow | undefined> {
  const { rows } = await db.query<ScanRunRow>(`SELECT * FROM check_runs WHERE workspace_id = $1 AND ${LIVE}`, [workspaceId]);
  return rows[0];
}

export async function findScanRun(db: Queryable, id: string): Promise<ScanRunRow | undefined> {
  const { rows } = await db.query<ScanRunRow>(`SELECT * FROM check_runs WHERE id = $1 AND kind = 'scan'`, [id]);
  return rows[0];
}

/**
 * Makes `owner` the runner of a live scan: its own, one nobody runs, or one whose runner stopped beating before
 * `staleBefore` (a crashed or killed instance). Undefined when another live runner holds it or it is over.
 */
export async function claimScanRun(db: Queryable, id: string, owner: string, at: Date, staleBefore: Date): Promise<ScanRunRow | undefined> {
  const { rows } = await db.query<ScanRunRow>(
    `UPDATE check_runs SET owner = $2, heartbeat_at = $3, status = 'running', started_at = COALESCE(started_at, $3)
     WHERE id = $1 AND ${LIVE} AND (owner = $2 OR owner IS NULL OR heartbeat_at IS NULL OR heartbeat_at < $4)
     RETURNING *`,
    [id, owner, at, staleBefore],
  );
  return rows[0];
}

/** Live scans whose runner stopped beating before `staleBefore`: candidates for a takeover. */
export async function staleScanRuns(db: Queryable, staleBefore: Date, limit = 20): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM check_runs WHERE ${LIVE} AND (owner IS NULL OR heartbeat_at IS NULL OR heartbeat_at < $1) ORDER BY created_at LIMIT $2`,
    [staleBefore, limit],
  );
  return rows.map((r) => r.id);
}

/** A sign of life; false when the run is no longer this owner's (taken over, or finished by someone else). */
export async function beatScanRun(db: Queryable, id: string, owner: string, at: Date): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE check_runs SET heartbeat_at = $3 WHERE id = $1 AND owner = $2 AND ${LIVE}`, [id, owner, at]);
  return rowCount === 1;
}

/**
 * Saves where the scan got to, and merges its counts into the run's (the checks run afterwards add their own
 * keys to the same object); false when the run is no longer this owner's.
 */
export async function saveScanProgress(
  db: Queryable,
  id: string,
  owner: string,
  progress: Record<string, unknown>,
  counts: Record<string, unknown>,
  at: Date,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE check_runs SET progress = $3, counts = counts || $4::jsonb, heartbeat_at = $5 WHERE id = $1 AND owner = $2 AND ${LIVE}`,
    [id, owner, JSON.stringify(progress), JSON.stringify(counts), at],
  );
  return rowCount === 1;
}

export async function finishScanRun(
  db: Queryable,
  id: string,
  owner: string,
  r: { status: 'succeeded' | 'failed'; error: string | null; progress: Record<string, unknown>; counts: Record<string, unknown>; at: Date },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE check_runs SET status = $3, error = $4, progress = $5, counts = counts || $6::jsonb, finished_at = $7, heartbeat_at = $7
     WHERE id = $1 AND owner = $2 AND ${LIVE}`,
    [id, owner, r.status, r.error, JSON.stringify(r.progress), JSON.stringify(r.counts), r.at],
  );
  if (rowCount === 1) await db.query('DELETE FROM scan_seen WHERE run_id = $1', [id]);
  return rowCount === 1;
}

/** Lets another instance take the run over at once (a graceful stop), keeping its progress. */
export async function releaseScanRun(db: Queryable, id: string, owner: string): Promise<void> {
  await db.query(`UPDATE check_runs SET owner = NULL WHERE id = $1 AND owner = $2 AND ${LIVE}`, [id, owner]);
}

export interface ScanState {
  lastRunId: string | null;
  lastCompletedAt: Date | null;
  eventsUntil: Date | null;
}

export async function findScanState(db: Queryable, workspaceId: string, provider: string): Promise<ScanState | undefined> {
  const { rows } = await db.query<ScanState>(
    `SELECT last_run_id AS "lastRunId", last_completed_at AS "lastCompletedAt", events_until AS "eventsUntil"
     FROM scan_state WHERE workspace_id = $1 AND provider = $2`,
    [workspaceId, provider],
  );
  return rows[0];
}

/** Records a complete scan of a provider; events_until only moves forward. */
export async function saveScanState(
  db: Queryable,
  s: { workspaceId: string; provider: string; runId: string; completedAt: Date; eventsUntil: Date | null },
): Promise<void> {
  await db.query(
    `INSERT INTO scan_state (workspace_id, provider, last_run_id, last_completed_at, events_until) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (workspace_id, provider) DO UPDATE SET last_run_id = $3, last_completed_at = $4,
       events_until = GREATEST(scan_state.events_until, EXCLUDED.events_until)`,
    [s.workspaceId, s.provider, s.runId, s.completedAt, s.eventsUntil],
  );
}

/** The provider event ids of these that are already stored. */
export async function storedProviderEventIds(
  db: Queryable,
  workspaceId: string,
  provider: string,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `SELECT provider_event_id AS id FROM events WHERE workspace_id = $1 AND provider = $2 AND provider_event_id = ANY($3::text[])`,
    [workspaceId, provider, ids],
  );
  return new Set(rows.map((r) => r.id));
}

/** Whether recovered events of the workspace are still waiting to be processed. */
export async function recoveredWaiting(db: Queryable, workspaceId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM events WHERE workspace_id = $1 AND recovered AND status = 'received'`,
    [workspaceId],
  );
  return rows[0]!.n;
}

/** CRM rows of one table by provider ids. */
export async function crmRowsByProviderIds(
  db: Queryable,
  table: 'subscriptions' | 'customers' | 'access',
  workspaceId: string,
  provider: string,
  ids: readonly string[],
): Promise<Map<string, CrmRow>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<CrmRow & { provider_id: string }>(
    `SELECT * FROM ${table} WHERE workspace_id = $1 AND provider = $2 AND provider_id = ANY($3::text[])`,
    [workspaceId, provider, ids],
  );
  return new Map(rows.map((r) => [r.provider_id, r]));
}

/** The CRM ids of customers by provider ids (the customers a scan touched). */
export async function customerIdsOf(
  db: Queryable,
  workspaceId: string,
  provider: string,
  providerIds: readonly string[],
): Promise<string[]> {
  if (providerIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM customers WHERE workspace_id = $1 AND provider = $2 AND provider_id = ANY($3::text[])`,
    [workspaceId, provider, providerIds],
  );
  return rows.map((r) => r.id);
}

export async function markSeen(db: Queryable, runId: string, providerIds: readonly string[]): Promise<void> {
  if (providerIds.length === 0) return;
  await db.query(`INSERT INTO scan_seen (run_id, provider_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [runId, providerIds]);
}

/**
 * Subscriptions of the workspace the scan's listing did not return, that existed before the listing began and
 * are not tombstones yet, in id order after `after` (keyset pages).
 */
export async function unseenSubscriptions(
  db: Queryable,
  o: { workspaceId: string; provider: string; runId: string; createdBefore: Date; after: string | null; limit: number },
): Promise<CrmRow[]> {
  const { rows } = await db.query<CrmRow>(
    `SELECT s.* FROM subscriptions s
     WHERE s.workspace_id = $1 AND s.provider = $2 AND NOT s.deleted AND NOT s.stub AND s.created_at < $4
       AND ($5::text IS NULL OR s.provider_id > $5)
       AND NOT EXISTS (SELECT 1 FROM scan_seen v WHERE v.run_id = $3 AND v.provider_id = s.provider_id)
     ORDER BY s.provider_id LIMIT $6`,
    [o.workspaceId, o.provider, o.runId, o.createdBefore, o.after, o.limit],
  );
  return rows;
}

/** The Piano accesses the CRM holds active for a Piano user. */
export async function activeAccessOfPianoUser(db: Queryable, workspaceId: string, uid: string): Promise<CrmRow[]> {
  const { rows } = await db.query<CrmRow>(
    `SELECT a.* FROM access a JOIN customers c ON c.id = a.customer_id
     WHERE a.workspace_id = $1 AND a.provider = 'piano' AND a.status = 'active' AND NOT a.deleted
       AND c.workspace_id = $1 AND c.provider = 'piano' AND c.provider_id = $2`,
    [workspaceId, uid],
  );
  return rows;
}
