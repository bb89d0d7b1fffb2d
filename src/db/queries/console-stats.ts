// What the console's overview and troubleshooting pages read: counts of a bounded time span (a range of the
// events' (workspace_id, id) index, ids sort by receipt time), the hourly rollups of completed hours, and a few
// existence checks. Nothing here counts a workspace's whole history.
import type { Queryable } from '../port.js';

/** A time span as both times (for timestamp columns) and id bounds (for id-ordered tables): `loId` is
 *  idFloor of `lo`, `hiId` of `hi`. */
export interface Span {
  lo: Date;
  hi: Date;
  loId: string;
  hiId: string;
}

export interface EventBucketRow {
  /** Unix seconds of the bucket's start (receipt time floored to the bucket size). */
  t: number;
  provider: string;
  received: number;
  /** Events of the bucket already processed, and their summed seconds from receipt (or replay) to processing. */
  processed: number;
  lagSeconds: number;
}

/** Events received in the span, per bucket of `bucketSeconds` and provider: one range scan of the span's ids. */
export async function eventBuckets(db: Queryable, workspaceId: string, span: Span, bucketSeconds: number): Promise<EventBucketRow[]> {
  const { rows } = await db.query<EventBucketRow>(
    `SELECT (floor(extract(epoch FROM received_at) / $4) * $4)::float8 AS t, provider, count(*)::int AS received,
            count(*) FILTER (WHERE status = 'processed' AND processed_at IS NOT NULL)::int AS processed,
            COALESCE(sum(extract(epoch FROM processed_at - COALESCE(replayed_at, received_at))) FILTER (WHERE status = 'processed' AND processed_at IS NOT NULL), 0)::float8
              AS "lagSeconds"
     FROM events WHERE workspace_id = $1 AND id >= $2 AND id < $3
     GROUP BY 1, 2`,
    [workspaceId, span.loId, span.hiId, bucketSeconds],
  );
  return rows;
}

export interface AttemptBucketRow {
  t: number;
  attempts: number;
  succeeded: number;
}

/** Delivery attempts started in the span, per bucket: a range of each endpoint's (endpoint_id, started_at) index. */
export async function attemptBuckets(db: Queryable, workspaceId: string, span: Span, bucketSeconds: number): Promise<AttemptBucketRow[]> {
  const { rows } = await db.query<AttemptBucketRow>(
    `SELECT (floor(extract(epoch FROM a.started_at) / $4) * $4)::float8 AS t, count(*)::int AS attempts,
            count(*) FILTER (WHERE a.outcome = 'succeeded')::int AS succeeded
     FROM endpoints ep
     JOIN delivery_attempts a ON a.endpoint_id = ep.id AND a.started_at >= $2 AND a.started_at < $3
     WHERE ep.workspace_id = $1
     GROUP BY 1`,
    [workspaceId, span.lo, span.hi, bucketSeconds],
  );
  return rows;
}

export interface RollupRow {
  hour: Date;
  metric: string;
  n: number;
  total: number;
}

/** The hours of [from, to) already rolled up. */
export async function rolledHours(db: Queryable, workspaceId: string, from: Date, to: Date): Promise<Date[]> {
  const { rows } = await db.query<{ hour: Date }>(
    'SELECT hour FROM console_rollup_hours WHERE workspace_id = $1 AND hour >= $2 AND hour < $3',
    [workspaceId, from, to],
  );
  return rows.map((r) => r.hour);
}

export async function readRollups(db: Queryable, workspaceId: string, from: Date, to: Date): Promise<RollupRow[]> {
  const { rows } = await db.query<RollupRow>(
    `SELECT hour, metric, n::float8 AS n, total FROM console_rollups WHERE workspace_id = $1 AND hour >= $2 AND hour < $3`,
    [workspaceId, from, to],
  );
  return rows;
}

/** Computes the rollups of whole hours (each given with its id bounds) and stores them with the hours; an
 *  hour computed meanwhile by another request is left as it is (the same counts). */
export async function fillRollups(db: Queryable, workspaceId: string, hours: Span[]): Promise<void> {
  if (hours.length === 0) return;
  const params = [workspaceId, hours.map((h) => h.lo), hours.map((h) => h.hi), hours.map((h) => h.loId), hours.map((h) => h.hiId)];
  await db.query(
    `WITH h AS (SELECT * FROM unnest($2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[]) AS h (lo, hi, lo_id, hi_id)),
     ev AS (
       SELECT h.lo AS hour, e.provider, count(*) AS received,
              count(*) FILTER (WHERE e.status = 'processed' AND e.processed_at IS NOT NULL) AS processed,
              COALESCE(sum(extract(epoch FROM e.processed_at - COALESCE(e.replayed_at, e.received_at)))
                FILTER (WHERE e.status = 'processed' AND e.processed_at IS NOT NULL), 0)::float8 AS lag
       FROM h JOIN events e ON e.workspace_id = $1 AND e.id >= h.lo_id AND e.id < h.hi_id
       GROUP BY h.lo, e.provider
     ),
     at AS (
       SELECT h.lo AS hour, sum(x.attempts) AS attempts, sum(x.succeeded) AS succeeded
       FROM h CROSS JOIN endpoints ep CROSS JOIN LATERAL (
         SELECT count(*) AS attempts, count(*) FILTER (WHERE a.outcome = 'succeeded') AS succeeded
         FROM delivery_attempts a WHERE a.endpoint_id = ep.id AND a.started_at >= h.lo AND a.started_at < h.hi
       ) x
       WHERE ep.workspace_id = $1
       GROUP BY h.lo HAVING sum(x.attempts) > 0
     ),
     rows AS (
       SELECT hour, 'received:' || provider AS metric, received AS n, 0::float8 AS total FROM ev
       UNION ALL SELECT hour, 'lag:' || provider, processed, lag FROM ev WHERE processed > 0
       UNION ALL SELECT hour, 'attempts', attempts, succeeded::float8 FROM at
     ),
     stored AS (
       INSERT INTO console_rollups (workspace_id, hour, metric, n, total)
       SELECT $1, hour, metric, n, total FROM rows ON CONFLICT DO NOTHING
     )
     INSERT INTO console_rollup_hours (workspace_id, hour) SELECT $1, lo FROM h ON CONFLICT DO NOTHING`,
    params,
  );
}

/** Rollups of hours older than `before` are no longer shown: dropped. */
export async function pruneRollups(db: Queryable, workspaceId: string, before: Date): Promise<void> {
  await db.query('DELETE FROM console_rollups WHERE workspace_id = $1 AND hour < $2', [workspaceId, before]);
  await db.query('DELETE FROM console_rollup_hours WHERE workspace_id = $1 AND hour < $2', [workspaceId, before]);
}

export interface OnboardingFacts {
  anyEvent: boolean;
  anyEndpoint: boolean;
  anySuccess: boolean;
}

// Probes for "does this workspace have any …" must not run on a generic plan: planned for the average workspace
// (most rows match), a probe reads the table in id order until a row matches, which for a new, empty workspace is
// the whole table. The `$2::text IS NULL` term makes db/postgres.ts plan the text for each call (see
// OPTIONAL_FILTER there), with the workspace's own statistics: an unknown workspace is rare, so its index is used.
const PER_CALL = '($2::text IS NULL OR true)';

/** Each an index probe that stops at the first row. */
export async function onboardingFacts(db: Queryable, workspaceId: string): Promise<OnboardingFacts> {
  const { rows } = await db.query<OnboardingFacts>(
    `SELECT EXISTS (SELECT 1 FROM events WHERE workspace_id = $1 AND ${PER_CALL}) AS "anyEvent",
            EXISTS (SELECT 1 FROM endpoints WHERE workspace_id = $1 AND kind <> 'forward') AS "anyEndpoint",
            EXISTS (SELECT 1 FROM endpoints WHERE workspace_id = $1 AND last_success_at IS NOT NULL) AS "anySuccess"`,
    [workspaceId, null],
  );
  return rows[0]!;
}

/** Deliveries waiting, from each endpoint's part of the pending-only index (as large as the backlog, no more). */
export async function pendingDeliveries(db: Queryable, workspaceId: string): Promise<{ pending: number; oldestSeconds: number | null }> {
  const { rows } = await db.query<{ pending: number; oldestSeconds: number | null }>(
    `SELECT COALESCE(sum(p.n), 0)::int AS pending, max(p.oldest)::float8 AS "oldestSeconds"
     FROM endpoints ep CROSS JOIN LATERAL (
       SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS oldest
       FROM deliveries d WHERE d.endpoint_id = ep.id AND d.status = 'pending'
     ) p WHERE ep.workspace_id = $1`,
    [workspaceId],
  );
  return rows[0]!;
}

export interface OpenIncidentRow {
  id: string;
  endpointId: string | null;
  kind: string;
  detail: string;
  openedAt: Date;
}

export async function openIncidents(db: Queryable, workspaceId: string, limit: number): Promise<OpenIncidentRow[]> {
  const { rows } = await db.query<OpenIncidentRow>(
    `SELECT id, endpoint_id AS "endpointId", kind, title AS detail, opened_at AS "openedAt" FROM incidents
     WHERE workspace_id = $1 AND status IN ('open', 'acknowledged') ORDER BY opened_at DESC, id DESC LIMIT $2`,
    [workspaceId, limit],
  );
  return rows;
}

/** The newest event of a provider, from the (workspace, provider, status, id) index: one probe per status. */
export async function lastEventOf(
  db: Queryable,
  workspaceId: string,
  provider: string,
): Promise<{ id: string; receivedAt: Date; type: string } | null> {
  const { rows } = await db.query<{ id: string; receivedAt: Date; type: string }>(
    `SELECT id, received_at AS "receivedAt", type FROM (
       ${['received', 'processed', 'ignored', 'failed']
         .map(
           (s) =>
             `(SELECT id, received_at, type FROM events WHERE workspace_id = $1 AND provider = $3 AND status = '${s}' AND ${PER_CALL} ORDER BY id DESC LIMIT 1)`,
         )
         .join(' UNION ALL ')}
     ) x ORDER BY id DESC LIMIT 1`,
    [workspaceId, null, provider],
  );
  return rows[0] ?? null;
}

/** Failed events of a provider among its newest `window` failed ones, and the newest one's error. */
export async function recentFailures(
  db: Queryable,
  workspaceId: string,
  provider: string,
  window: number,
): Promise<{ count: number; lastError: string | null; lastId: string | null }> {
  const { rows } = await db.query<{ count: number; lastError: string | null; lastId: string | null }>(
    `SELECT count(*)::int AS count, (array_agg(error ORDER BY id DESC))[1] AS "lastError", max(id) AS "lastId"
     FROM (SELECT id, error FROM events WHERE workspace_id = $1 AND provider = $2 AND status = 'failed' ORDER BY id DESC LIMIT $3) f`,
    [workspaceId, provider, window],
  );
  return rows[0]!;
}
