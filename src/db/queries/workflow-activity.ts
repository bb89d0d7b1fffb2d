// What the console shows about workflows at a glance: each one's last run, its runs of the last day by status,
// and the workspace's recent messages a dry run can be tried on. Every query is a bounded range of an id index
// (ids sort by creation time), never a scan of the whole run or message history.
import type { Queryable } from '../port.js';

/** The newest run of each workflow: its status and when it started (workflow_runs_workflow index, one probe each). */
export async function lastRunsOf(
  db: Queryable,
  workspaceId: string,
  workflowIds: readonly string[],
): Promise<{ workflowId: string; id: string; status: string; createdAt: Date }[]> {
  if (workflowIds.length === 0) return [];
  const { rows } = await db.query<{ workflowId: string; id: string; status: string; createdAt: Date }>(
    `SELECT w.id AS "workflowId", r.id, r.status, r.created_at AS "createdAt"
     FROM unnest($2::text[]) AS w(id)
     CROSS JOIN LATERAL (
       SELECT r.id, r.status, r.created_at FROM workflow_runs r
       WHERE r.workflow_id = w.id AND r.workspace_id = $1 ORDER BY r.id DESC LIMIT 1
     ) r`,
    [workspaceId, workflowIds],
  );
  return rows;
}

/** Runs started since `sinceId` (an id floor), counted by workflow and status. */
export async function runCountsSince(
  db: Queryable,
  workspaceId: string,
  sinceId: string,
): Promise<{ workflowId: string; status: string; n: number }[]> {
  const { rows } = await db.query<{ workflowId: string; status: string; n: number }>(
    `SELECT workflow_id AS "workflowId", status, count(*)::int AS n FROM workflow_runs
     WHERE workspace_id = $1 AND id >= $2 GROUP BY workflow_id, status`,
    [workspaceId, sinceId],
  );
  return rows;
}

export interface RecentMessage {
  id: string;
  type: string;
  sourceProvider: string | null;
  dedupeKey: string;
  recovered: boolean;
  createdAt: Date;
  /** The stored event of a raw provider message. */
  eventId: string | null;
  /** A Piano version 1 event's `event` field (its action), the only part of a payload a trigger reads. */
  payloadEvent: string | null;
}

/**
 * Among the workspace's newest `window` messages (test ones left out), the newest `limit`, optionally of one exact
 * type: without their data (a dry run loads the one chosen), so a window of thousands stays cheap.
 */
export async function recentMessages(
  db: Queryable,
  workspaceId: string,
  o: { type?: string | undefined; window: number; limit: number },
): Promise<RecentMessage[]> {
  const { rows } = await db.query<RecentMessage>(
    `SELECT m.id, m.type, m.source_provider AS "sourceProvider", m.dedupe_key AS "dedupeKey", m.recovered,
       m.created_at AS "createdAt", CASE WHEN m.dedupe_key LIKE 'raw:%' THEN substr(m.dedupe_key, 5) END AS "eventId",
       CASE WHEN m.source_provider = 'piano' AND jsonb_typeof(m.data->'event') = 'string' THEN m.data->>'event' END AS "payloadEvent"
     FROM (SELECT id, type, source_provider, dedupe_key, recovered, created_at, data FROM messages_with_data
           WHERE workspace_id = $1 AND NOT test ORDER BY id DESC LIMIT $2) m
     WHERE ($3::text IS NULL OR m.type = $3)
     ORDER BY m.id DESC LIMIT $4`,
    [workspaceId, o.window, o.type ?? null, o.limit],
  );
  return rows;
}
