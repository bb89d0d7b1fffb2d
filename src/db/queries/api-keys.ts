import type { Queryable } from '../port.js';

export async function insertApiKey(
  db: Queryable,
  key: { id: string; workspaceId: string; keyHash: string; keyPrefix: string; name: string | null },
): Promise<{ id: string; createdAt: Date }> {
  const { rows } = await db.query<{ id: string; createdAt: Date }>(
    `INSERT INTO api_keys (id, workspace_id, key_hash, key_prefix, name) VALUES ($1, $2, $3, $4, $5)
     RETURNING id, created_at AS "createdAt"`,
    [key.id, key.workspaceId, key.keyHash, key.keyPrefix, key.name],
  );
  return rows[0]!;
}

export async function findWorkspaceIdByKeyHash(db: Queryable, keyHash: string): Promise<string | undefined> {
  const { rows } = await db.query<{ workspaceId: string }>('SELECT workspace_id AS "workspaceId" FROM api_keys WHERE key_hash = $1', [
    keyHash,
  ]);
  return rows[0]?.workspaceId;
}
