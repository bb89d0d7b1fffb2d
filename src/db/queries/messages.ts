// Outbound messages (business events, raw provider events, custom and test events) and their fan-out: a
// message and its deliveries are written in one statement sequence of the caller's transaction, so a
// message is never stored without the deliveries it owes, nor delivered without being stored.
import { newId } from '../../lib/ids.js';
import type { Queryable } from '../port.js';

export interface NewMessage {
  id: string;
  workspaceId: string;
  type: string;
  data: unknown;
  sourceProvider: string | null;
  sourceEventId: string | null;
  /** One message per fact: publishing the same fact again (replay, redelivery) is a no-op. */
  dedupeKey: string;
  /** Deliver only to these endpoints (a test event) instead of every matching, enabled one. */
  endpointIds?: string[];
  /** Seconds before the first attempt (the first value of SLUICE_RETRY_SCHEDULE); 0 when absent. */
  firstAttemptDelaySeconds?: number;
}

export interface MessageRow {
  id: string;
  workspace_id: string;
  type: string;
  data: unknown;
  source_provider: string | null;
  source_event_id: string | null;
  dedupe_key: string;
  created_at: Date;
}

// The endpoint filter rule of outbound/event-filter.ts, in SQL: empty, '*', the exact type, or 'prefix.*'.
const MATCHES_TYPE = `(cardinality(event_types) = 0 OR EXISTS (
  SELECT 1 FROM unnest(event_types) AS f(pattern)
  WHERE pattern = '*' OR pattern = $2
     OR (right(pattern, 2) = '.*' AND left($2, length(pattern) - 1) = left(pattern, -1))))`;

/** Stores the message and one delivery per matching enabled endpoint; false when the fact was already published. */
export async function publishMessage(db: Queryable, m: NewMessage): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO messages (id, workspace_id, type, data, source_provider, source_event_id, dedupe_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, dedupe_key) DO NOTHING`,
    [m.id, m.workspaceId, m.type, JSON.stringify(m.data), m.sourceProvider, m.sourceEventId, m.dedupeKey],
  );
  if (rowCount !== 1) return false;
  const endpoints = m.endpointIds
    ? m.endpointIds
    : (
        await db.query<{ id: string }>(`SELECT id FROM endpoints WHERE workspace_id = $1 AND enabled AND ${MATCHES_TYPE}`, [
          m.workspaceId,
          m.type,
        ])
      ).rows.map((r) => r.id);
  if (endpoints.length > 0) {
    const ids = endpoints.map(() => newId('dlv'));
    await db.query(
      `INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id, next_attempt_at)
       SELECT d.id, $1, d.endpoint_id, $2, now() + make_interval(secs => $5::float8)
       FROM unnest($3::text[], $4::text[]) AS d(id, endpoint_id)`,
      [m.workspaceId, m.id, ids, endpoints, m.firstAttemptDelaySeconds ?? 0],
    );
  }
  return true;
}

export async function findMessageByDedupeKey(db: Queryable, workspaceId: string, dedupeKey: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>('SELECT * FROM messages WHERE workspace_id = $1 AND dedupe_key = $2', [
    workspaceId,
    dedupeKey,
  ]);
  return rows[0];
}

export async function findMessage(db: Queryable, workspaceId: string, id: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>('SELECT * FROM messages WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
  return rows[0];
}

/** The newest message of a type (REST Hooks samples show real data when there is some). */
export async function latestMessageOfType(db: Queryable, workspaceId: string, type: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>('SELECT * FROM messages WHERE workspace_id = $1 AND type = $2 ORDER BY id DESC LIMIT 1', [
    workspaceId,
    type,
  ]);
  return rows[0];
}

/** Messages created after a given id, oldest first (`sluice listen`). */
export async function messagesAfter(db: Queryable, workspaceId: string, afterId: string, limit: number): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>('SELECT * FROM messages WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3', [
    workspaceId,
    afterId,
    limit,
  ]);
  return rows;
}
