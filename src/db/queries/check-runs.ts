// Check and scan runs: what was asked, how it went, what it found (bounded), how long it took.
import type { Queryable } from '../port.js';

export interface CheckRunRow {
  id: string;
  workspace_id: string;
  kind: 'check' | 'scan';
  trigger: string;
  scope: Record<string, unknown>;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  counts: Record<string, unknown>;
  findings: Record<string, unknown>[];
  progress: Record<string, unknown>;
  error: string | null;
  owner: string | null;
  heartbeat_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export async function insertCheckRun(
  db: Queryable,
  r: {
    id: string;
    workspaceId: string;
    trigger: string;
    scope: Record<string, unknown>;
    status: 'queued' | 'running';
    owner: string;
    at: Date;
  },
): Promise<CheckRunRow> {
  const { rows } = await db.query<CheckRunRow>(
    `INSERT INTO check_runs (id, workspace_id, kind, trigger, scope, status, owner, heartbeat_at, created_at, started_at)
     VALUES ($1, $2, 'check', $3, $4, $5, $6, $7, $7, CASE WHEN $5 = 'running' THEN $7::timestamptz END) RETURNING *`,
    [r.id, r.workspaceId, r.trigger, JSON.stringify(r.scope), r.status, r.owner, r.at],
  );
  return rows[0]!;
}

/** A whole run written at once, already finished (an event-triggered batch: one row per batch, one statement). */
export async function insertFinishedCheckRun(
  db: Queryable,
  r: {
    id: string;
    workspaceId: string;
    trigger: string;
    scope: Record<string, unknown>;
    status: 'succeeded' | 'failed';
    counts: Record<string, unknown>;
    findings: unknown[];
    error: string | null;
    owner: string;
    startedAt: Date;
    finishedAt: Date;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO check_runs (id, workspace_id, kind, trigger, scope, status, counts, findings, error, owner, heartbeat_at,
       created_at, started_at, finished_at)
     VALUES ($1, $2, 'check', $3, $4, $5, $6, $7, $8, $9, $11, $10, $10, $11)`,
    [
      r.id,
      r.workspaceId,
      r.trigger,
      JSON.stringify(r.scope),
      r.status,
      JSON.stringify(r.counts),
      JSON.stringify(r.findings),
      r.error,
      r.owner,
      r.startedAt,
      r.finishedAt,
    ],
  );
}

export async function findCheckRun(db: Queryable, workspaceId: string, id: string, forUpdate = false): Promise<CheckRunRow | undefined> {
  const { rows } = await db.query<CheckRunRow>(
    `SELECT * FROM check_runs WHERE workspace_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [workspaceId, id],
  );
  return rows[0];
}

/** Writes a run's counts and findings so far (and marks it running); the heartbeat says its owner is alive. */
export async function updateCheckRun(
  db: Queryable,
  id: string,
  u: { counts: Record<string, unknown>; findings: unknown[]; at: Date; status?: 'running' | 'succeeded' | 'failed'; error?: string | null },
): Promise<void> {
  await db.query(
    `UPDATE check_runs SET counts = $2, findings = $3, heartbeat_at = $4,
       status = COALESCE($5, status), error = COALESCE($6, error),
       started_at = COALESCE(started_at, $4),
       finished_at = CASE WHEN $5 IN ('succeeded', 'failed') THEN $4 ELSE finished_at END
     WHERE id = $1`,
    [id, JSON.stringify(u.counts), JSON.stringify(u.findings), u.at, u.status ?? null, u.error ?? null],
  );
}

export async function listCheckRuns(
  db: Queryable,
  o: { workspaceId: string; trigger?: string; status?: string; before?: string; limit: number },
): Promise<CheckRunRow[]> {
  const params: unknown[] = [o.workspaceId];
  const where = ['workspace_id = $1'];
  if (o.trigger) where.push(`trigger = $${params.push(o.trigger)}`);
  if (o.status) where.push(`status = $${params.push(o.status)}`);
  if (o.before) where.push(`id < $${params.push(o.before)}`);
  const { rows } = await db.query<CheckRunRow>(
    `SELECT * FROM check_runs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.push(o.limit)}`,
    params,
  );
  return rows;
}

/** Check runs (not scans: they are taken over) whose process stopped beating: failed, with why. */
export async function failAbandonedCheckRuns(db: Queryable, heartbeatBefore: Date, at: Date): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE check_runs SET status = 'failed', finished_at = $2,
       error = 'the process running this check stopped before it finished'
     WHERE kind = 'check' AND status IN ('queued', 'running') AND COALESCE(heartbeat_at, created_at) < $1`,
    [heartbeatBefore, at],
  );
  return rowCount;
}
