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
