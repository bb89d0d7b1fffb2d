// The inbound event store, which is also the processing queue: a row with status 'received' whose
// next_attempt_at has passed and that no live worker holds is due.
import type { Db, Queryable } from '../port.js';
import { claimInOrder, finishClaims, holdClaims, type ClaimOutcome, type QueueDef } from './queue.js';

export type EventStatus = 'received' | 'processed' | 'ignored' | 'failed';

export interface EventSummary {
  id: string;
  workspaceId: string;
  provider: string;
  providerEventId: string;
  type: string;
  livemode: boolean | null;
  status: EventStatus;
  attempts: number;
  error: string | null;
  receivedAt: Date;
  processedAt: Date | null;
  providerCreatedAt: Date | null;
  nextAttemptAt: Date;
}

export interface EventWithPayload extends EventSummary {
  payload: unknown;
}

const SUMMARY = `id, workspace_id AS "workspaceId", provider, provider_event_id AS "providerEventId", type, livemode,
  status, attempts, error, received_at AS "receivedAt", processed_at AS "processedAt",
  provider_created_at AS "providerCreatedAt", next_attempt_at AS "nextAttemptAt"`;

export interface NewEvent {
  id: string;
  workspaceId: string;
  provider: string;
  providerEventId: string;
  type: string;
  livemode: boolean | null;
  providerCreatedAt: Date | null;
  /** null when PostgreSQL cannot hold the content as jsonb (the event is then stored as failed). */
  payload: unknown;
  /** The body as text when that is exact, else null and the bytes in rawBytes. */
  rawBody: string | null;
  rawBytes?: Buffer | null;
  /** 'ignored' for events stored only for the record (live traffic into a demo workspace, a mode mismatch);
   *  'failed' for content that can never be processed. */
  status: 'received' | 'ignored' | 'failed';
  error: string | null;
  /** How the webhook arrived (GET or POST), where forwarding must repeat it. */
  inboundMethod?: string | null;
}

/** Inserts unless (workspace, provider, providerEventId) exists; returns false for a duplicate. */
export async function insertEvent(db: Queryable, e: NewEvent): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, livemode, provider_created_at,
                         payload, raw_body, raw_bytes, status, error, processed_at, inbound_method)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $13, $10, $11, CASE WHEN $10 <> 'received' THEN now() END, $12)
     ON CONFLICT (workspace_id, provider, provider_event_id) DO NOTHING`,
    [
      e.id,
      e.workspaceId,
      e.provider,
      e.providerEventId,
      e.type,
      e.livemode,
      e.providerCreatedAt,
      e.payload === null ? null : JSON.stringify(e.payload),
      e.rawBody,
      e.status,
      e.error,
      e.inboundMethod ?? null,
      e.rawBytes ?? null,
    ],
  );
  return rowCount === 1;
}

export interface ClaimedEvent {
  id: string;
  workspaceId: string;
  provider: string;
  providerEventId: string;
  type: string;
  attempts: number;
  payload: unknown;
  receivedAt: Date;
}

/** The processing queue: a received event is due at next_attempt_at unless a live lease holds it. */
export const EVENT_QUEUE: QueueDef = {
  table: 'events',
  waiting: 'received',
  finishedAt: 'processed_at',
  error: 'error',
  returning: `q.id, q.workspace_id AS "workspaceId", q.provider, q.provider_event_id AS "providerEventId", q.type, q.attempts,
    q.payload, q.received_at AS "receivedAt"`,
  // The object an event is about: a Stripe event's data.object, a Piano event's user. Events of one object
  // are worked on by one worker at a time, in order, so the facts they publish come in the order they happened.
  serialKey: (t) => `(${t}.workspace_id || ':' || COALESCE(${t}.payload->'data'->'object'->>'id', ${t}.payload->>'uid', ''))`,
};

/** Claims up to `limit` due events for `workerId` until the lease expires (the attempt counted up front). */
export function claimDueEvents(db: Db, workerId: string, limit: number, leaseSeconds: number): Promise<ClaimedEvent[]> {
  return claimInOrder<ClaimedEvent>(db, EVENT_QUEUE, { workerId, limit, leaseSeconds });
}

/** Locks a claimed event for the transaction that processes it, if the claim is still this worker's: while the
 *  lock is held no other worker can take the event over, and a claim already lost is seen before any work. */
export async function holdClaim(db: Queryable, id: string, workerId: string): Promise<boolean> {
  return (await holdClaims(db, EVENT_QUEUE, workerId, [id])).has(id);
}

/** Final outcome of a claimed event; false (and nothing written) when the claim was lost. */
export async function finishEvent(db: Queryable, id: string, workerId: string, status: 'processed' | 'ignored'): Promise<boolean> {
  return (await finishClaims(db, EVENT_QUEUE, workerId, [{ id, status, error: null, retryInSeconds: null }])) === 1;
}

/** A failed attempt as a queue outcome: due again after `retryInSeconds`, or failed for good when null. */
export function eventFailure(id: string, error: string, retryInSeconds: number | null): ClaimOutcome {
  return retryInSeconds === null
    ? { id, status: 'failed', error, retryInSeconds: null }
    : { id, status: 'received', error, retryInSeconds };
}

/** Puts a stored event back in the queue for a fresh run (replay). An event kept without a payload (content
 *  PostgreSQL cannot hold) is left alone: no run of it can ever succeed. */
export async function requeueEvent(db: Queryable, workspaceId: string, id: string): Promise<EventSummary | undefined> {
  const { rows } = await db.query<EventSummary>(
    `UPDATE events SET status = 'received', attempts = 0, error = NULL, processed_at = NULL,
       next_attempt_at = now(), locked_by = NULL, locked_until = NULL
     WHERE workspace_id = $1 AND id = $2 AND payload IS NOT NULL RETURNING ${SUMMARY}`,
    [workspaceId, id],
  );
  return rows[0];
}

export interface EventFilter {
  workspaceId: string;
  provider?: string | undefined;
  type?: string | undefined;
  status?: EventStatus | undefined;
  since?: Date | undefined;
  before?: string | undefined;
  limit: number;
}

/** Newest first, keyset-paged by id. */
export async function listEvents(db: Queryable, f: EventFilter): Promise<EventSummary[]> {
  const { rows } = await db.query<EventSummary>(
    `SELECT ${SUMMARY} FROM events
     WHERE workspace_id = $1
       AND ($2::text IS NULL OR provider = $2)
       AND ($3::text IS NULL OR type = $3)
       AND ($4::text IS NULL OR status = $4)
       AND ($5::timestamptz IS NULL OR received_at >= $5)
       AND ($6::text IS NULL OR id < $6)
     ORDER BY id DESC LIMIT $7`,
    [f.workspaceId, f.provider ?? null, f.type ?? null, f.status ?? null, f.since ?? null, f.before ?? null, f.limit],
  );
  return rows;
}

export async function getEvent(db: Queryable, workspaceId: string, id: string): Promise<EventWithPayload | undefined> {
  const { rows } = await db.query<EventWithPayload>(`SELECT ${SUMMARY}, payload FROM events WHERE workspace_id = $1 AND id = $2`, [
    workspaceId,
    id,
  ]);
  return rows[0];
}

export interface ProviderEventStats {
  provider: string;
  status: EventStatus;
  count: number;
  lastReceivedAt: Date;
}

export async function eventStatsByProvider(db: Queryable, workspaceId: string): Promise<ProviderEventStats[]> {
  const { rows } = await db.query<ProviderEventStats>(
    `SELECT provider, status, count(*)::int AS count, max(received_at) AS "lastReceivedAt"
     FROM events WHERE workspace_id = $1 GROUP BY provider, status`,
    [workspaceId],
  );
  return rows;
}

/** Types ignored for want of a handler; events ignored by a rule (demo workspace, connection mode) carry
 *  their reason in `error` and are not "unhandled". */
export async function unhandledTypes(db: Queryable, workspaceId: string): Promise<{ provider: string; type: string; count: number }[]> {
  const { rows } = await db.query<{ provider: string; type: string; count: number }>(
    `SELECT provider, type, count(*)::int AS count FROM events
     WHERE workspace_id = $1 AND status = 'ignored' AND error IS NULL GROUP BY provider, type ORDER BY count DESC, type LIMIT 100`,
    [workspaceId],
  );
  return rows;
}

export interface LagStats {
  provider: string;
  pending: number;
  /** Age in seconds of the oldest event still waiting to be processed; 0 when none waits. */
  oldestPendingSeconds: number;
  /** Mean seconds from receipt to outcome over the last 5 minutes of outcomes, null without any. */
  recentMeanSeconds: number | null;
}

export async function processingLag(db: Queryable, workspaceId: string | null): Promise<LagStats[]> {
  const { rows } = await db.query<LagStats>(
    `SELECT provider,
       count(*) FILTER (WHERE status = 'received')::int AS pending,
       COALESCE(EXTRACT(EPOCH FROM now() - min(received_at) FILTER (WHERE status = 'received')), 0)::float8
         AS "oldestPendingSeconds",
       (avg(EXTRACT(EPOCH FROM processed_at - received_at))
         FILTER (WHERE processed_at > now() - interval '5 minutes'))::float8 AS "recentMeanSeconds"
     FROM events
     WHERE ($1::text IS NULL OR workspace_id = $1)
       AND (status = 'received' OR processed_at > now() - interval '5 minutes')
     GROUP BY provider`,
    [workspaceId],
  );
  return rows;
}

export async function countEventsByStatus(db: Queryable): Promise<{ provider: string; status: EventStatus; count: number }[]> {
  const { rows } = await db.query<{ provider: string; status: EventStatus; count: number }>(
    'SELECT provider, status, count(*)::int AS count FROM events GROUP BY provider, status',
  );
  return rows;
}

export interface ReplayableEvent {
  id: string;
  workspaceId: string;
  provider: string;
  type: string;
  payload: unknown;
  providerCreatedAt: Date | null;
  receivedAt: Date;
}

/** Processed events of a workspace in provider order, keyset-paged (for rebuilds). */
/**
 * Processed events of a workspace in provider order (the provider's time, else receipt), for a rebuild. The
 * order key is cut to milliseconds: the cursor comes back as a JavaScript Date, and a microsecond key would
 * never compare greater than its own truncation (the page would repeat for ever).
 */
export async function processedEventsPage(
  db: Queryable,
  workspaceId: string,
  after: { ts: Date; id: string } | undefined,
  limit: number,
): Promise<ReplayableEvent[]> {
  const { rows } = await db.query<ReplayableEvent>(
    `SELECT id, workspace_id AS "workspaceId", provider, provider_event_id AS "providerEventId", type, payload,
            date_trunc('milliseconds', COALESCE(provider_created_at, received_at)) AS "providerCreatedAt", received_at AS "receivedAt"
     FROM events
     WHERE workspace_id = $1 AND status = 'processed'
       AND ($2::timestamptz IS NULL OR (date_trunc('milliseconds', COALESCE(provider_created_at, received_at)), id) > ($2, $3))
     ORDER BY date_trunc('milliseconds', COALESCE(provider_created_at, received_at)), id LIMIT $4`,
    [workspaceId, after?.ts ?? null, after?.id ?? '', limit],
  );
  return rows;
}

export async function countProcessedEvents(db: Queryable, workspaceId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE workspace_id = $1 AND status = 'processed'`, [
    workspaceId,
  ]);
  return rows[0]!.n;
}

/** The exact inbound request of a stored event (Piano forwards resend it as it came). */
export async function findRawEvent(
  db: Queryable,
  workspaceId: string,
  provider: string,
  providerEventId: string,
): Promise<{ rawBody: string; inboundMethod: string | null } | undefined> {
  const { rows } = await db.query<{ rawBody: string; inboundMethod: string | null }>(
    `SELECT raw_body AS "rawBody", inbound_method AS "inboundMethod" FROM events
     WHERE workspace_id = $1 AND provider = $2 AND provider_event_id = $3`,
    [workspaceId, provider, providerEventId],
  );
  return rows[0];
}
