// The reads and writes of a customer erasure. Candidate rows are found by a case-insensitive text search for
// the person's ids and values; the caller redacts them in JavaScript and writes them back, all in one
// transaction.
import { containsPattern } from '../like.js';
import type { Queryable } from '../port.js';
import { payloadOf } from './event-payload.js';

/** `%value%` patterns for ILIKE, with the pattern characters of the value escaped. */
export function likePatterns(values: readonly string[]): string[] {
  return values.map(containsPattern);
}

export interface ErasureEventRow {
  id: string;
  provider: string;
  payload: unknown;
  raw_body: string;
}

/** Locked in id order, the order retention's batches take events in: fewer deadlocks between the two. */
export async function eventsMentioning(
  db: Queryable,
  workspaceId: string,
  customerIds: string[],
  patterns: string[],
): Promise<ErasureEventRow[]> {
  const { rows } = await db.query<ErasureEventRow>(
    // An event waiting with its payload still in the raw body (migration 0030) is found by the raw body and read
    // from it; its redacted payload is then written as any other's.
    `SELECT id, provider, ${payloadOf('events')} AS payload, raw_body FROM events
     WHERE workspace_id = $1
       AND (id IN (SELECT event_id FROM customer_events WHERE customer_id = ANY($2::text[]))
            OR payload::text ILIKE ANY($3::text[]) OR raw_body ILIKE ANY($3::text[]))
     ORDER BY id
     FOR UPDATE`,
    [workspaceId, customerIds, patterns],
  );
  return rows;
}

export async function updateEventContent(db: Queryable, id: string, payload: unknown, rawBody: string): Promise<void> {
  await db.query('UPDATE events SET payload = $2::jsonb, raw_body = $3, raw_is_payload = false WHERE id = $1', [
    id,
    // An event kept without a payload (content jsonb cannot hold) stays without one.
    payload === null ? null : JSON.stringify(payload),
    rawBody,
  ]);
}

/**
 * Drops the claims (leases) on events the erasure rewrote. A worker that claimed one before the erasure holds its
 * old payload, with the person in it: without its lease it writes nothing (its hold skips the event, or its finish
 * records fewer events than it ran and the batch rolls back), and the event, still 'received', is claimed again
 * and processed from its redacted payload. The events are locked by the erasure already (row first, lease second,
 * as every holder of both takes them).
 */
export async function dropEventClaims(db: Queryable, eventIds: string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const { rowCount } = await db.query('DELETE FROM event_leases WHERE id = ANY($1::text[])', [eventIds]);
  return rowCount;
}

/**
 * Messages whose data mentions the person, and every message whose data is the payload of one of `eventIds`
 * (`ofEvent`: those the erasure rewrote, which must be written too, see erase-customer.ts), locked for update,
 * with their data resolved.
 */
export async function messagesMentioning(
  db: Queryable,
  workspaceId: string,
  patterns: string[],
  eventIds: string[],
): Promise<{ id: string; data: unknown; ofEvent: boolean }[]> {
  const { rows } = await db.query<{ id: string; data: unknown; ofEvent: boolean }>(
    `SELECT m.id, COALESCE(m.data, ${payloadOf('e')}) AS data, COALESCE(m.data IS NULL AND m.data_event_id = ANY($3::text[]), false) AS "ofEvent"
     FROM messages m LEFT JOIN events e ON m.data IS NULL AND e.id = m.data_event_id
     WHERE m.workspace_id = $1
       AND (COALESCE(m.data, ${payloadOf('e')})::text ILIKE ANY($2::text[]) OR (m.data IS NULL AND m.data_event_id = ANY($3::text[])))
     FOR UPDATE OF m`,
    [workspaceId, patterns, eventIds],
  );
  return rows;
}

/** Writes a message's own data (no longer its event's payload). */
export async function updateMessageData(db: Queryable, id: string, data: unknown): Promise<void> {
  await db.query('UPDATE messages SET data = $2::jsonb, data_event_id = NULL WHERE id = $1', [id, JSON.stringify(data)]);
}

export async function snapshotsMentioning(
  db: Queryable,
  workspaceId: string,
  patterns: string[],
): Promise<{ event_id: string; object_id: string; object: unknown }[]> {
  const { rows } = await db.query<{ event_id: string; object_id: string; object: unknown }>(
    `SELECT s.event_id, s.object_id, s.object FROM provider_snapshots s JOIN events e ON e.id = s.event_id
     WHERE e.workspace_id = $1 AND s.object::text ILIKE ANY($2::text[]) FOR UPDATE OF s`,
    [workspaceId, patterns],
  );
  return rows;
}

export async function updateSnapshot(db: Queryable, eventId: string, objectId: string, object: unknown): Promise<void> {
  await db.query('UPDATE provider_snapshots SET object = $3::jsonb WHERE event_id = $1 AND object_id = $2', [
    eventId,
    objectId,
    JSON.stringify(object),
  ]);
}

/** The JSON a workflow run keeps (the event and customer it started with, each step's input and output). */
const WORKFLOW_JSON: Record<string, readonly string[]> = {
  workflow_runs: ['trigger_event', 'customer'],
  workflow_steps: ['input', 'output'],
};

/** Workflow runs and steps of the workspace whose stored JSON mentions the person. */
export async function workflowJsonMentioning(
  db: Queryable,
  workspaceId: string,
  patterns: string[],
): Promise<{ table: string; key: string; column: string; value: unknown }[]> {
  const { rows } = await db.query<{ table: string; key: string; column: string; value: unknown }>(
    `SELECT 'workflow_runs' AS table, id AS key, 'trigger_event' AS column, trigger_event AS value
       FROM workflow_runs WHERE workspace_id = $1 AND trigger_event::text ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'workflow_runs', id, 'customer', customer
       FROM workflow_runs WHERE workspace_id = $1 AND customer::text ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'workflow_steps', id, 'input', input
       FROM workflow_steps WHERE workspace_id = $1 AND input::text ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'workflow_steps', id, 'output', output
       FROM workflow_steps WHERE workspace_id = $1 AND output::text ILIKE ANY($2::text[])
     ORDER BY 1, 2, 3`,
    [workspaceId, patterns],
  );
  return rows;
}

export async function updateWorkflowJson(db: Queryable, table: string, key: string, column: string, value: unknown): Promise<void> {
  // Table and column come from the fixed list above, never from input.
  if (!WORKFLOW_JSON[table]?.includes(column)) throw new Error(`not an erasable column: ${table}.${column}`);
  await db.query(`UPDATE ${table} SET ${column} = $2::jsonb WHERE id = $1`, [key, value === null ? null : JSON.stringify(value)]);
}

/** Free-text columns that can quote a person (a receiver's answer, an error, an incident's detail). */
export async function textsMentioning(
  db: Queryable,
  workspaceId: string,
  patterns: string[],
): Promise<{ table: string; key: string; column: string; text: string }[]> {
  const { rows } = await db.query<{ table: string; key: string; column: string; text: string }>(
    `SELECT 'delivery_attempts' AS table, a.id AS key, 'response_excerpt' AS column, a.response_excerpt AS text
       FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
       WHERE d.workspace_id = $1 AND a.response_excerpt ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'delivery_attempts', a.id, 'error', a.error
       FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
       WHERE d.workspace_id = $1 AND a.error ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'deliveries', id, 'last_error', last_error FROM deliveries WHERE workspace_id = $1 AND last_error ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'events', id, 'error', error FROM events WHERE workspace_id = $1 AND error ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'incidents', id, 'detail', detail FROM incidents WHERE workspace_id = $1 AND detail ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'workflow_runs', id, 'error', error FROM workflow_runs WHERE workspace_id = $1 AND error ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'workflow_steps', id, 'error', error FROM workflow_steps WHERE workspace_id = $1 AND error ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'workflow_step_attempts', a.id, 'response_excerpt', a.response_excerpt
       FROM workflow_step_attempts a JOIN workflow_steps s ON s.id = a.step_row_id
       WHERE s.workspace_id = $1 AND a.response_excerpt ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'workflow_step_attempts', a.id, 'error', a.error
       FROM workflow_step_attempts a JOIN workflow_steps s ON s.id = a.step_row_id
       WHERE s.workspace_id = $1 AND a.error ILIKE ANY($2::text[])
     UNION ALL
     SELECT 'workflow_triggers', id, 'last_error', last_error FROM workflow_triggers WHERE workspace_id = $1 AND last_error ILIKE ANY($2::text[])`,
    [workspaceId, patterns],
  );
  return rows;
}

const TEXT_COLUMNS: Record<string, readonly string[]> = {
  delivery_attempts: ['response_excerpt', 'error'],
  deliveries: ['last_error'],
  events: ['error'],
  incidents: ['detail'],
  workflow_runs: ['error'],
  workflow_steps: ['error'],
  workflow_step_attempts: ['response_excerpt', 'error'],
  workflow_triggers: ['last_error'],
};

export async function updateText(db: Queryable, table: string, key: string, column: string, text: string): Promise<void> {
  // Table and column come from the fixed list above, never from input.
  if (!TEXT_COLUMNS[table]?.includes(column)) throw new Error(`not an erasable column: ${table}.${column}`);
  await db.query(`UPDATE ${table} SET ${column} = $2 WHERE id = $1`, [key, text]);
}

/** The person's own CRM rows keep their ids, links and tags; the personal columns are emptied, and so are the
 *  attributes workflows set on them (crm.set: often the person's own values). */
export async function blankCustomers(db: Queryable, customerIds: string[]): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE customers SET email = NULL, name = NULL, phone = NULL, metadata = '{}'::jsonb, attributes = '{}'::jsonb, updated_at = now()
     WHERE id = ANY($1::text[])`,
    [customerIds],
  );
  return rowCount;
}

export async function insertErasure(
  db: Queryable,
  e: { id: string; workspaceId: string; requestedBy: string; customerIds: string[]; providerIds: string[]; counts: Record<string, number> },
): Promise<ErasureRow> {
  const { rows } = await db.query<ErasureRow>(
    `INSERT INTO customer_erasures (id, workspace_id, requested_by, customer_ids, provider_ids, counts)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING ${ERASURE_COLUMNS}`,
    [e.id, e.workspaceId, e.requestedBy, e.customerIds, e.providerIds, JSON.stringify(e.counts)],
  );
  return rows[0]!;
}

export interface ErasureRow {
  id: string;
  requestedBy: string;
  customerIds: string[];
  providerIds: string[];
  counts: Record<string, number>;
  erasedAt: Date;
}

const ERASURE_COLUMNS = `id, requested_by AS "requestedBy", customer_ids AS "customerIds", provider_ids AS "providerIds", counts,
  erased_at AS "erasedAt"`;

export async function listErasures(db: Queryable, workspaceId: string, opts: { limit: number; before?: string }): Promise<ErasureRow[]> {
  const { rows } = await db.query<ErasureRow>(
    `SELECT ${ERASURE_COLUMNS} FROM customer_erasures WHERE workspace_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [workspaceId, opts.before ?? null, opts.limit],
  );
  return rows;
}

/** Customer rows in the workspace with one of these emails: the same person at another provider, linked or not. */
export async function customersByEmail(db: Queryable, workspaceId: string, emails: string[]): Promise<Record<string, unknown>[]> {
  if (emails.length === 0) return [];
  const { rows } = await db.query('SELECT * FROM customers WHERE workspace_id = $1 AND lower(email) = ANY($2::text[]) FOR UPDATE', [
    workspaceId,
    emails.map((e) => e.toLowerCase()),
  ]);
  return rows;
}

export async function deleteWorkspaceIdempotentAnswers(db: Queryable, workspaceId: string): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM idempotency_keys WHERE workspace_id = $1', [workspaceId]);
  return rowCount;
}
