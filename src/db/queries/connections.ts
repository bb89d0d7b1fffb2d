import type { Queryable } from '../port.js';

export interface ConnectionRow {
  workspaceId: string;
  provider: string;
  settings: Record<string, unknown>;
  secretsSealed: string;
  updatedAt: Date;
}

const COLUMNS = 'workspace_id AS "workspaceId", provider, settings, secrets_sealed AS "secretsSealed", updated_at AS "updatedAt"';

export async function findConnection(db: Queryable, workspaceId: string, provider: string): Promise<ConnectionRow | undefined> {
  const { rows } = await db.query<ConnectionRow>(`SELECT ${COLUMNS} FROM connections WHERE workspace_id = $1 AND provider = $2`, [
    workspaceId,
    provider,
  ]);
  return rows[0];
}

// First key of the two-key advisory lock space for connection rows (any constant; only needs to be unique here).
const CONNECTION_LOCK_CLASS = 7_215_804;

/**
 * Inside a transaction: waits for any other update of this (workspace, provider) connection to commit, then
 * reads it. Two concurrent saves (one adding a signing secret, one setting the API key) each merge into the
 * other's result instead of the last one silently dropping the first. FOR UPDATE alone cannot do this for the
 * first save, when there is no row yet to lock; the advisory lock covers that case too and ends with the
 * transaction.
 */
export async function lockConnection(tx: Queryable, workspaceId: string, provider: string): Promise<ConnectionRow | undefined> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CONNECTION_LOCK_CLASS, `${workspaceId}:${provider}`]);
  const { rows } = await tx.query<ConnectionRow>(
    `SELECT ${COLUMNS} FROM connections WHERE workspace_id = $1 AND provider = $2 FOR UPDATE`,
    [workspaceId, provider],
  );
  return rows[0];
}

/** The workspace and its connection to one provider in a single round trip (the inbound hot path). */
export async function findWorkspaceWithConnection(
  db: Queryable,
  workspaceId: string,
  provider: string,
): Promise<{ demo: boolean; connection: ConnectionRow | undefined } | undefined> {
  const { rows } = await db.query<{
    demo: boolean;
    secretsSealed: string | null;
    settings: Record<string, unknown> | null;
    updatedAt: Date | null;
  }>(
    `SELECT w.demo, c.secrets_sealed AS "secretsSealed", c.settings, c.updated_at AS "updatedAt"
     FROM workspaces w LEFT JOIN connections c ON c.workspace_id = w.id AND c.provider = $2
     WHERE w.id = $1`,
    [workspaceId, provider],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    demo: row.demo,
    connection:
      row.secretsSealed === null
        ? undefined
        : { workspaceId, provider, settings: row.settings ?? {}, secretsSealed: row.secretsSealed, updatedAt: row.updatedAt! },
  };
}

export async function upsertConnection(
  db: Queryable,
  c: { workspaceId: string; provider: string; settings: Record<string, unknown>; secretsSealed: string },
): Promise<ConnectionRow> {
  const { rows } = await db.query<ConnectionRow>(
    `INSERT INTO connections (workspace_id, provider, settings, secrets_sealed) VALUES ($1, $2, $3, $4)
     ON CONFLICT (workspace_id, provider)
     DO UPDATE SET settings = EXCLUDED.settings, secrets_sealed = EXCLUDED.secrets_sealed, updated_at = now()
     RETURNING ${COLUMNS}`,
    [c.workspaceId, c.provider, JSON.stringify(c.settings), c.secretsSealed],
  );
  return rows[0]!;
}

/** The most recently saved sealed connection secrets, for the master-key check at boot. */
export async function recentSealedSecrets(db: Queryable, limit: number): Promise<ConnectionRow[]> {
  const { rows } = await db.query<ConnectionRow>(`SELECT ${COLUMNS} FROM connections ORDER BY updated_at DESC LIMIT $1`, [limit]);
  return rows;
}
