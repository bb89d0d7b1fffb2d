import type { Queryable } from '../port.js';

export interface WorkspaceRow {
  id: string;
  name: string;
  demo: boolean;
  createdAt: Date;
}

const COLUMNS = 'id, name, demo, created_at AS "createdAt"';

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
export async function listWorkspaces(db: Queryable, opts: { limit: number; before?: string; onlyId?: string }): Promise<WorkspaceRow[]> {
  const { rows } = await db.query<WorkspaceRow>(
    `SELECT ${COLUMNS} FROM workspaces
     WHERE ($1::text IS NULL OR id < $1) AND ($2::text IS NULL OR id = $2)
     ORDER BY id DESC LIMIT $3`,
    [opts.before ?? null, opts.onlyId ?? null, opts.limit],
  );
  return rows;
}
