import type { Queryable } from '../port.js';

export type ApiKeyRole = 'admin' | 'member' | 'viewer';

export interface ApiKeyRow {
  id: string;
  workspaceId: string;
  name: string | null;
  role: ApiKeyRole;
  keyPrefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const COLUMNS = `id, workspace_id AS "workspaceId", name, role, key_prefix AS "keyPrefix", created_at AS "createdAt",
  last_used_at AS "lastUsedAt"`;

export async function insertApiKey(
  db: Queryable,
  key: { id: string; workspaceId: string; keyHash: string; keyPrefix: string; name: string | null; role: ApiKeyRole },
): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, workspace_id, key_hash, key_prefix, name, role) VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING ${COLUMNS}`,
    [key.id, key.workspaceId, key.keyHash, key.keyPrefix, key.name, key.role],
  );
  return rows[0]!;
}

export async function findApiKeyByHash(db: Queryable, keyHash: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1`, [keyHash]);
  return rows[0];
}

/** Kept within a minute, not to the millisecond: one write per key per minute, not one per request. */
export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  );
}

/** Newest first, keyset-paged by id. */
export async function listApiKeys(db: Queryable, workspaceId: string, opts: { limit: number; before?: string }): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE workspace_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [workspaceId, opts.before ?? null, opts.limit],
  );
  return rows;
}

/** Deleted, not flagged: the next request with the key finds no row and is refused. */
export async function deleteApiKey(db: Queryable, workspaceId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM api_keys WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
  return rowCount === 1;
}
