// Outbound endpoints and REST Hooks subscriptions (migrations/0004_outbound.sql).
import type { Queryable } from '../port.js';

export type EndpointKind = 'endpoint' | 'hook' | 'forward';
/** enabled: delivering; paused: deliveries are created and wait; disabled: none are created. */
export type EndpointState = 'enabled' | 'paused' | 'disabled';
export const ENDPOINT_STATES: readonly EndpointState[] = ['enabled', 'paused', 'disabled'];

export interface EndpointRow {
  id: string;
  workspace_id: string;
  kind: EndpointKind;
  url: string;
  description: string | null;
  event_types: string[];
  state: EndpointState;
  /** state === 'enabled' (a generated column, kept for readers written before states). */
  enabled: boolean;
  disabled_reason: string | null;
  rate_limit: number | null;
  headers: Record<string, string>;
  secrets_sealed: string;
  failing_since: Date | null;
  last_success_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewEndpoint {
  id: string;
  workspaceId: string;
  kind: EndpointKind;
  url: string;
  description: string | null;
  eventTypes: string[];
  rateLimit: number | null;
  headers: Record<string, string>;
  secretsSealed: string;
}

export async function insertEndpoint(db: Queryable, e: NewEndpoint): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `INSERT INTO endpoints (id, workspace_id, kind, url, description, event_types, rate_limit, headers, secrets_sealed)
     VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9) RETURNING *`,
    [e.id, e.workspaceId, e.kind, e.url, e.description, e.eventTypes, e.rateLimit, JSON.stringify(e.headers), e.secretsSealed],
  );
  return rows[0]!;
}

export async function findEndpoint(db: Queryable, workspaceId: string, id: string, forUpdate = false): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>(
    `SELECT * FROM endpoints WHERE workspace_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [workspaceId, id],
  );
  return rows[0];
}

export async function findEndpointById(db: Queryable, id: string): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>('SELECT * FROM endpoints WHERE id = $1', [id]);
  return rows[0];
}

export async function listEndpoints(
  db: Queryable,
  o: { workspaceId: string; kind?: EndpointKind | undefined; before?: string | undefined; limit: number },
): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(
    `SELECT * FROM endpoints WHERE workspace_id = $1 AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [o.workspaceId, o.kind ?? null, o.before ?? null, o.limit],
  );
  return rows;
}

export interface EndpointChanges {
  url?: string;
  description?: string | null;
  eventTypes?: string[];
  state?: EndpointState;
  disabledReason?: string | null;
  rateLimit?: number | null;
  headers?: Record<string, string>;
  secretsSealed?: string;
}

const COLUMNS: Record<keyof EndpointChanges, string> = {
  url: 'url',
  description: 'description',
  eventTypes: 'event_types',
  state: 'state',
  disabledReason: 'disabled_reason',
  rateLimit: 'rate_limit',
  headers: 'headers',
  secretsSealed: 'secrets_sealed',
};

export async function updateEndpoint(db: Queryable, id: string, changes: EndpointChanges): Promise<EndpointRow> {
  const keys = (Object.keys(changes) as (keyof EndpointChanges)[]).filter((k) => changes[k] !== undefined);
  const sets = keys.map((k, i) => `${COLUMNS[k]} = $${i + 2}${k === 'eventTypes' ? '::text[]' : ''}`);
  // Re-enabling starts the failure clock afresh.
  if (changes.state === 'enabled') sets.push('failing_since = NULL');
  const values = keys.map((k) => (k === 'headers' ? JSON.stringify(changes[k]) : changes[k]));
  const { rows } = await db.query<EndpointRow>(
    `UPDATE endpoints SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING *`,
    [id, ...values],
  );
  return rows[0]!;
}

export async function deleteEndpoint(db: Queryable, workspaceId: string, id: string, kind?: EndpointKind): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM endpoints WHERE workspace_id = $1 AND id = $2 AND ($3::text IS NULL OR kind = $3)', [
    workspaceId,
    id,
    kind ?? null,
  ]);
  return rowCount === 1;
}

export async function recordEndpointSuccess(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE endpoints SET failing_since = NULL, last_success_at = now() WHERE id = $1', [id]);
}

/** Starts the failure clock if it is not running; returns how long the endpoint has been failing, in seconds. */
export async function recordEndpointFailure(db: Queryable, id: string): Promise<number> {
  const { rows } = await db.query<{ failing_for: number }>(
    `UPDATE endpoints SET failing_since = COALESCE(failing_since, now()) WHERE id = $1
     RETURNING extract(epoch FROM now() - failing_since)::float8 AS failing_for`,
    [id],
  );
  return rows[0]?.failing_for ?? 0;
}
