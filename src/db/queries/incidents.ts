// Incidents: an endpoint disabled for failing too long, and similar facts an operator must act on.
import type { Queryable } from '../port.js';

export interface IncidentRow {
  id: string;
  workspace_id: string;
  endpoint_id: string | null;
  kind: string;
  detail: string;
  opened_at: Date;
  resolved_at: Date | null;
}

export async function openIncident(
  db: Queryable,
  i: { id: string; workspaceId: string; endpointId: string | null; kind: string; detail: string },
): Promise<IncidentRow> {
  const { rows } = await db.query<IncidentRow>(
    'INSERT INTO incidents (id, workspace_id, endpoint_id, kind, detail) VALUES ($1, $2, $3, $4, $5) RETURNING *',
    [i.id, i.workspaceId, i.endpointId, i.kind, i.detail],
  );
  return rows[0]!;
}

/** Resolves the open incidents of an endpoint (it was re-enabled); returns them. */
export async function resolveEndpointIncidents(db: Queryable, endpointId: string): Promise<IncidentRow[]> {
  const { rows } = await db.query<IncidentRow>(
    'UPDATE incidents SET resolved_at = now() WHERE endpoint_id = $1 AND resolved_at IS NULL RETURNING *',
    [endpointId],
  );
  return rows;
}

export async function listIncidents(db: Queryable, workspaceId: string, limit: number): Promise<IncidentRow[]> {
  const { rows } = await db.query<IncidentRow>(
    'SELECT * FROM incidents WHERE workspace_id = $1 ORDER BY opened_at DESC, id DESC LIMIT $2',
    [workspaceId, limit],
  );
  return rows;
}
