// Deliveries are the outbound queue: one row per message and endpoint, due when next_attempt_at has passed and
// no live sender holds it. Every attempt is a row of its own in delivery_attempts.
import type { Queryable } from '../port.js';
import { newId } from '../../lib/ids.js';
import { matchesTypeSql } from './messages.js';
import { claimBatch, releaseAllClaims, releaseClaims, type QueueDef } from './queue.js';

export interface ClaimedDelivery {
  id: string;
  workspaceId: string;
  endpointId: string;
  messageId: string;
  /** Attempts made including the one now starting. */
  attempts: number;
}

/**
 * The outbound queue. A claim takes due deliveries at most `perEndpoint` ($3) in flight per endpoint (counting
 * every sender's claims), and within each endpoint's rate limit (deliveries per second, counting the last
 * second's attempts): a slow or dead endpoint fills its own slots and no more, so the others keep flowing.
 */
export const DELIVERY_QUEUE: QueueDef = {
  table: 'deliveries',
  waiting: 'pending',
  finishedAt: 'finished_at',
  error: 'last_error',
  returning: `q.id, q.workspace_id AS "workspaceId", q.endpoint_id AS "endpointId", q.message_id AS "messageId", q.attempts`,
  candidates: `
       SELECT d.id
       FROM endpoints e
       CROSS JOIN LATERAL (
         SELECT count(*)::int AS n FROM deliveries x
         WHERE x.endpoint_id = e.id AND x.locked_by IS NOT NULL AND x.locked_until > now()
       ) busy
       CROSS JOIN LATERAL (
         SELECT CASE WHEN e.rate_limit IS NULL THEN 0 ELSE (
           SELECT count(*)::int FROM delivery_attempts a WHERE a.endpoint_id = e.id AND a.started_at > now() - interval '1 second'
         ) END AS n
       ) recent
       CROSS JOIN LATERAL (
         SELECT q.id, q.next_attempt_at, row_number() OVER (ORDER BY q.next_attempt_at, q.id) AS rn
         FROM (
           SELECT id, next_attempt_at FROM deliveries
           WHERE endpoint_id = e.id AND status = 'pending' AND next_attempt_at <= now()
             AND (locked_until IS NULL OR locked_until < now())
           ORDER BY next_attempt_at LIMIT $3
         ) q
       ) d
       -- paused and disabled endpoints' deliveries stay pending, untouched, until the endpoint is enabled
       WHERE e.state = 'enabled'
         AND d.rn <= $3 - busy.n
         AND (e.rate_limit IS NULL OR d.rn <= e.rate_limit - busy.n - recent.n)
       ORDER BY d.next_attempt_at LIMIT $2`,
};

/** Claims up to `limit` due deliveries, spread over endpoints (see DELIVERY_QUEUE). */
export function claimDueDeliveries(
  db: Queryable,
  o: { workerId: string; limit: number; perEndpoint: number; leaseSeconds: number },
): Promise<ClaimedDelivery[]> {
  return claimBatch<ClaimedDelivery>(db, DELIVERY_QUEUE, { ...o, params: [o.perEndpoint] });
}

export interface AttemptRecord {
  id: string;
  deliveryId: string;
  endpointId: string;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  responseExcerpt: string | null;
  error: string | null;
  outcome: 'succeeded' | 'retry' | 'failed' | 'gone';
}

/**
 * Locks what recording an attempt writes under, in the order deletions take the same rows (a workspace delete
 * locks the workspace first, an endpoint delete the endpoint, and both cascade to deliveries), so a delete
 * running at the same time either waits for the record or is seen by it: never a foreign-key violation on
 * delivery_attempts, never a deadlock. The message is share-locked before the delivery because a customer
 * erasure locks messages (FOR UPDATE) before it rewrites deliveries: an erasure then either waits for the
 * record and redacts the new attempt with the rest, or commits first and the record sees the message's new
 * fingerprint. Undefined when the delivery, or what owns it, was deleted since the claim.
 */
export async function lockDeliveryForRecord(
  db: Queryable,
  d: { id: string; workspaceId: string; endpointId: string; messageId: string },
): Promise<{ messageFingerprint: string } | undefined> {
  const owners: [string, string][] = [
    ['SELECT 1 FROM workspaces WHERE id = $1 FOR KEY SHARE', d.workspaceId],
    ['SELECT 1 FROM endpoints WHERE id = $1 FOR KEY SHARE', d.endpointId],
  ];
  for (const [sql, id] of owners) {
    if ((await db.query(sql, [id])).rows.length === 0) return undefined;
  }
  const { rows } = await db.query<{ fingerprint: string }>('SELECT md5(data::text) AS fingerprint FROM messages WHERE id = $1 FOR SHARE', [
    d.messageId,
  ]);
  if (!rows[0]) return undefined;
  if ((await db.query('SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE', [d.id])).rows.length === 0) return undefined;
  return { messageFingerprint: rows[0].fingerprint };
}

/** Records an attempt and moves the delivery on: done, due again after `retryInSeconds`, or failed. */
export async function recordAttempt(db: Queryable, workerId: string, a: AttemptRecord, retryInSeconds: number | null): Promise<boolean> {
  await db.query(
    `INSERT INTO delivery_attempts (id, delivery_id, endpoint_id, started_at, duration_ms, status_code, response_excerpt, error, outcome)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [a.id, a.deliveryId, a.endpointId, a.startedAt, a.durationMs, a.statusCode, a.responseExcerpt, a.error, a.outcome],
  );
  const status = a.outcome === 'succeeded' ? 'succeeded' : a.outcome === 'retry' ? 'pending' : 'failed';
  const { rowCount } = await db.query(
    `UPDATE deliveries SET status = $3, last_status_code = $4, last_error = $5, locked_by = NULL, locked_until = NULL,
       next_attempt_at = now() + make_interval(secs => COALESCE($6::float8, 0)),
       finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END
     WHERE id = $1 AND locked_by = $2`,
    [a.deliveryId, workerId, status, a.statusCode, a.error, retryInSeconds],
  );
  return rowCount === 1;
}

/** Gives claims back without counting the attempt (graceful shutdown, an endpoint paused meanwhile). */
export function releaseDeliveryClaims(db: Queryable, workerId: string, ids: string[]): Promise<void> {
  return releaseClaims(db, DELIVERY_QUEUE, workerId, ids);
}

/** Frees every claim at once; only safe when this process is the sole sender (embedded database). */
export function releaseAllDeliveryClaims(db: Queryable): Promise<number> {
  return releaseAllClaims(db, DELIVERY_QUEUE);
}

export interface DeliveryRow {
  id: string;
  workspace_id: string;
  endpoint_id: string;
  message_id: string;
  message_type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
}

const DELIVERY = `d.id, d.workspace_id, d.endpoint_id, d.message_id, m.type AS message_type, d.status, d.attempts,
  d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.finished_at`;

export async function listDeliveries(
  db: Queryable,
  o: {
    workspaceId: string;
    endpointId?: string | undefined;
    messageId?: string | undefined;
    status?: string | undefined;
    before?: string | undefined;
    limit: number;
  },
): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY} FROM deliveries d JOIN messages m ON m.id = d.message_id
     WHERE d.workspace_id = $1 AND ($2::text IS NULL OR d.endpoint_id = $2) AND ($3::text IS NULL OR d.message_id = $3)
       AND ($4::text IS NULL OR d.status = $4) AND ($5::text IS NULL OR d.id < $5)
     ORDER BY d.id DESC LIMIT $6`,
    [o.workspaceId, o.endpointId ?? null, o.messageId ?? null, o.status ?? null, o.before ?? null, o.limit],
  );
  return rows;
}

export async function findDelivery(db: Queryable, workspaceId: string, id: string): Promise<DeliveryRow | undefined> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY} FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.workspace_id = $1 AND d.id = $2`,
    [workspaceId, id],
  );
  return rows[0];
}

export interface AttemptRow {
  id: string;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  response_excerpt: string | null;
  error: string | null;
  outcome: string;
}

export async function attemptsOf(db: Queryable, deliveryId: string): Promise<AttemptRow[]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT id, started_at, duration_ms, status_code, response_excerpt, error, outcome
     FROM delivery_attempts WHERE delivery_id = $1 ORDER BY started_at, id`,
    [deliveryId],
  );
  return rows;
}

/** Queues a delivery for one more attempt now, unless a sender holds it at this moment. */
export async function requeueDelivery(db: Queryable, workspaceId: string, id: string): Promise<'queued' | 'in_flight' | 'not_found'> {
  const { rows } = await db.query<{ busy: boolean }>(
    `SELECT (status = 'pending' AND locked_until > now()) AS busy FROM deliveries WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
    [workspaceId, id],
  );
  if (!rows[0]) return 'not_found';
  if (rows[0].busy) return 'in_flight';
  await db.query(
    `UPDATE deliveries SET status = 'pending', next_attempt_at = now(), finished_at = NULL, locked_by = NULL, locked_until = NULL
     WHERE id = $1`,
    [id],
  );
  return 'queued';
}

/** Queues every failed delivery of an endpoint created since a time for a fresh run of the schedule. */
export async function requeueFailedDeliveries(db: Queryable, endpointId: string, since: Date): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), finished_at = NULL
     WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2`,
    [endpointId, since],
  );
  return rowCount;
}

/**
 * Creates the deliveries an endpoint missed (published while it was disabled, or before it existed) for the
 * messages since a time that its filter matches; test messages, which belong to one endpoint, excepted.
 */
export async function createMissedDeliveries(
  db: Queryable,
  e: { id: string; workspaceId: string; eventTypes: string[] },
  since: Date,
): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT m.id FROM messages m
     WHERE m.workspace_id = $2 AND m.created_at >= $4 AND NOT m.test AND ${matchesTypeSql('$3::text[]', 'm.type')}
       AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.endpoint_id = $1 AND x.message_id = m.id)
     ORDER BY m.id`,
    [e.id, e.workspaceId, e.eventTypes, since],
  );
  if (rows.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id, next_attempt_at)
     SELECT d.id, $1, $2, d.message_id, now() FROM unnest($3::text[], $4::text[]) AS d(id, message_id)
     ON CONFLICT (endpoint_id, message_id) DO NOTHING`,
    [e.workspaceId, e.id, rows.map(() => newId('dlv')), rows.map((r) => r.id)],
  );
  return rowCount;
}

export async function deliveryStatsByEndpoint(
  db: Queryable,
  workspaceId: string,
): Promise<{ endpoint_id: string; pending: number; failed: number; succeeded: number; oldest_pending_seconds: number | null }[]> {
  const { rows } = await db.query<{
    endpoint_id: string;
    pending: number;
    failed: number;
    succeeded: number;
    oldest_pending_seconds: number | null;
  }>(
    `SELECT endpoint_id,
            count(*) FILTER (WHERE status = 'pending')::int AS pending,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
            extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::float8 AS oldest_pending_seconds
     FROM deliveries WHERE workspace_id = $1 GROUP BY endpoint_id`,
    [workspaceId],
  );
  return rows;
}
