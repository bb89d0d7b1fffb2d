import type { Queryable } from '../port.js';

export interface WorkspaceRow {
  id: string;
  name: string;
  demo: boolean;
  retentionDays: number | null;
  workflowRunRetentionDays: number | null;
  createdAt: Date;
}

const COLUMNS =
  'id, name, demo, retention_days AS "retentionDays", workflow_run_retention_days AS "workflowRunRetentionDays", created_at AS "createdAt"';

export async function insertWorkspace(db: Queryable, ws: { id: string; name: string; demo: boolean }): Promise<WorkspaceRow> {
  const { rows } = await db.query<WorkspaceRow>(`INSERT INTO workspaces (id, name, demo) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`, [
    ws.id,
    ws.name,
    ws.demo,
  ]);
  return rows[0]!;
}

export async function findWorkspace(db: Queryable, id: string): Promise<WorkspaceRow | undefined> {
  const { rows } = await db.query<WorkspaceRow>(`SELECT ${COLUMNS} FROM workspaces WHERE id = $1`, [id]);
  return rows[0];
}

/** Newest first, keyset-paged by id (ids sort by creation time). */
/** Which of these ids are workspaces. */
export async function existingWorkspaceIds(db: Queryable, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM workspaces WHERE id = ANY($1::text[])', [ids]);
  return new Set(rows.map((r) => r.id));
}

export async function listWorkspaces(db: Queryable, opts: { limit: number; before?: string; onlyIds?: string[] }): Promise<WorkspaceRow[]> {
  const { rows } = await db.query<WorkspaceRow>(
    `SELECT ${COLUMNS} FROM workspaces
     WHERE ($1::text IS NULL OR id < $1) AND ($2::text[] IS NULL OR id = ANY($2))
     ORDER BY id DESC LIMIT $3`,
    [opts.before ?? null, opts.onlyIds ?? null, opts.limit],
  );
  return rows;
}

export async function updateWorkspace(
  db: Queryable,
  id: string,
  patch: {
    name?: string | undefined;
    demo?: boolean | undefined;
    retentionDays?: number | null | undefined;
    workflowRunRetentionDays?: number | null | undefined;
  },
): Promise<WorkspaceRow | undefined> {
  const { rows } = await db.query<WorkspaceRow>(
    `UPDATE workspaces SET name = COALESCE($2, name), demo = COALESCE($3, demo),
       retention_days = CASE WHEN $4 THEN $5::int ELSE retention_days END,
       workflow_run_retention_days = CASE WHEN $6 THEN $7::int ELSE workflow_run_retention_days END
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      patch.name ?? null,
      patch.demo ?? null,
      patch.retentionDays !== undefined,
      patch.retentionDays ?? null,
      patch.workflowRunRetentionDays !== undefined,
      patch.workflowRunRetentionDays ?? null,
    ],
  );
  return rows[0];
}

// What a deletion reports having erased; every other table goes too, by its ON DELETE CASCADE.
const COUNTED = ['events', 'customers', 'subscriptions', 'messages', 'deliveries', 'endpoints', 'api_keys'] as const;

/**
 * Deletes the workspace and, through the foreign keys' ON DELETE CASCADE, every row that belongs to it.
 * Locks the row first so a concurrent second deletion waits and then finds nothing. Run inside a transaction.
 */
export async function deleteWorkspaceCascade(db: Queryable, id: string): Promise<Record<string, number> | undefined> {
  const { rows: locked } = await db.query('SELECT id FROM workspaces WHERE id = $1 FOR UPDATE', [id]);
  if (locked.length === 0) return undefined;
  const { rows } = await db.query<Record<string, number>>(
    `SELECT ${COUNTED.map((t) => `(SELECT count(*)::int FROM ${t} WHERE workspace_id = $1) AS ${t}`).join(', ')}`,
    [id],
  );
  // Answers kept for Idempotency-Key reference the workspace by id only (the request may have created it).
  await db.query('DELETE FROM idempotency_keys WHERE workspace_id = $1', [id]);
  await db.query('DELETE FROM workspaces WHERE id = $1', [id]);
  return rows[0]!;
}
