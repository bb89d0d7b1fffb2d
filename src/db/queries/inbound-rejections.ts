import type { Queryable } from '../port.js';

export async function countRejection(db: Queryable, workspaceId: string, provider: string, reason: string): Promise<void> {
  await db.query(
    `INSERT INTO inbound_rejections (workspace_id, provider, reason, count) VALUES ($1, $2, $3, 1)
     ON CONFLICT (workspace_id, provider, reason) DO UPDATE SET count = inbound_rejections.count + 1, last_at = now()`,
    [workspaceId, provider, reason],
  );
}

export interface RejectionRow {
  provider: string;
  reason: string;
  count: number;
  firstAt: Date;
  lastAt: Date;
}

export async function listRejections(db: Queryable, workspaceId: string): Promise<RejectionRow[]> {
  const { rows } = await db.query<RejectionRow>(
    `SELECT provider, reason, count, first_at AS "firstAt", last_at AS "lastAt"
     FROM inbound_rejections WHERE workspace_id = $1 ORDER BY last_at DESC`,
    [workspaceId],
  );
  return rows;
}
