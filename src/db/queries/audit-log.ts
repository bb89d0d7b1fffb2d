import type { Queryable } from '../port.js';

export interface AuditRow {
  id: string;
  workspaceId: string | null;
  actor: string;
  actorLabel: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  at: Date;
}

export async function insertAudit(db: Queryable, row: Omit<AuditRow, 'at'>): Promise<void> {
  await db.query(
    'INSERT INTO audit_log (id, workspace_id, actor, actor_label, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [row.id, row.workspaceId, row.actor, row.actorLabel, row.action, row.target, JSON.stringify(row.detail)],
  );
}

/** Newest first, keyset-paged by id. */
export async function listAudit(db: Queryable, workspaceId: string, opts: { limit: number; before?: string }): Promise<AuditRow[]> {
  const { rows } = await db.query<AuditRow>(
    `SELECT id, workspace_id AS "workspaceId", actor, actor_label AS "actorLabel", action, target, detail, at
     FROM audit_log WHERE workspace_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [workspaceId, opts.before ?? null, opts.limit],
  );
  return rows;
}
