import type { Queryable } from '../port.js';

export interface RejectionCount {
  workspaceId: string;
  provider: string;
  reason: string;
  count: number;
}

/**
 * Adds rejected webhooks to their counters, one statement for any number of (workspace, provider, reason) keys,
 * each at most once. Keys go in a fixed order (two instances never wait on each other in a cycle); a workspace
 * deleted meanwhile is skipped. A counter stops at the int4 maximum instead of failing every later count.
 */
export async function countRejections(db: Queryable, counts: readonly RejectionCount[]): Promise<void> {
  if (counts.length === 0) return;
  const sorted = [...counts].sort((a, b) =>
    a.workspaceId !== b.workspaceId
      ? a.workspaceId < b.workspaceId
        ? -1
        : 1
      : a.provider !== b.provider
        ? a.provider < b.provider
          ? -1
          : 1
        : a.reason < b.reason
          ? -1
          : a.reason > b.reason
            ? 1
            : 0,
  );
  await db.query(
    `INSERT INTO inbound_rejections AS r (workspace_id, provider, reason, count)
     SELECT t.workspace_id, t.provider, t.reason, t.n
     FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS t(workspace_id, provider, reason, n, i)
     JOIN workspaces w ON w.id = t.workspace_id
     ORDER BY t.i
     ON CONFLICT (workspace_id, provider, reason)
     DO UPDATE SET count = LEAST(r.count::bigint + EXCLUDED.count, 2147483647)::int, last_at = now()`,
    [sorted.map((c) => c.workspaceId), sorted.map((c) => c.provider), sorted.map((c) => c.reason), sorted.map((c) => c.count)],
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
