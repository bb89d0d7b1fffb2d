// What the console's frame reads on every page of a workspace: the number of open incidents for the badge on the
// "Incidents" navigation item. One count on the incidents_status index (workspace_id, status, …), so it stays
// cheap however many resolved incidents a workspace has piled up.
import type { Queryable } from '../port.js';

/** Incidents of the workspace that are open (not acknowledged, resolved or ignored), up to `cap` (the badge
 *  shows "99+" beyond; a cap keeps the count bounded on a workspace drowning in incidents). */
export async function countOpenIncidents(db: Queryable, workspaceId: string, cap: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM incidents WHERE workspace_id = $1 AND status = 'open' ORDER BY last_seen_at DESC LIMIT $2
     ) open_incidents`,
    [workspaceId, cap],
  );
  return rows[0]?.n ?? 0;
}
