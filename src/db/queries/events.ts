// The inbound event store, which is also the processing queue: a row with status 'received' whose
// next_attempt_at has passed and that no live worker holds is due.
import { idFloor } from '../../lib/ids.js';
import { PLANNED_PER_CALL, type Db, type Queryable } from '../port.js';
import { hasPayload, payloadColumns, payloadOf, withParsedPayload } from './event-payload.js';
import { EVENT_ERROR_MAX_BYTES, storedError, storedType } from './event-inserts.js';
import { eventSerialKeys } from './event-serial-keys.js';
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
  /** Found by a reconciliation scan rather than delivered by the provider. */
  recovered?: boolean;
}

/** Inserts unless (workspace, provider, providerEventId) exists; returns false for a duplicate. */
export async function insertEvent(db: Queryable, e: NewEvent): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, livemode, provider_created_at,
                         payload, raw_body, raw_bytes, status, error, processed_at, inbound_method, recovered)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $13, $10, $11, CASE WHEN $10 <> 'received' THEN now() END, $12, $14)
     ON CONFLICT (workspace_id, provider, provider_event_id) DO NOTHING`,
    [
      e.id,
      e.workspaceId,
      e.provider,
      e.providerEventId,
      storedType(e.type),
      e.livemode,
      e.providerCreatedAt,
      e.payload === null ? null : JSON.stringify(e.payload),
      e.rawBody,
      e.status,
      storedError(e.error),
      e.inboundMethod ?? null,
      e.rawBytes ?? null,
      e.recovered ?? false,
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
  /** Stored by a reconciliation scan: the business events it causes carry `source.recovered: true`. */
  recovered: boolean;
  /** What the event is about, as the claim keys it (EVENT_QUEUE.serialKeys): events of a batch that share a key run
   *  one after the other. Absent where an event was not read by a claim: it then shares a key with every event. */
  serialKeys?: string[];
}

/** The processing queue: a received event is due at next_attempt_at unless a live lease holds it. */
export const EVENT_QUEUE: QueueDef = {
  table: 'events',
  // An event row is large (its bodies) and indexed many ways: its leases live apart (queue.ts).
  leases: 'event_leases',
  waiting: 'received',
  finishedAt: 'processed_at',
  error: 'error',
  // The events list's covering index holds the error (event-inserts.ts).
  errorMaxBytes: EVENT_ERROR_MAX_BYTES,
  // A payload kept in the raw body comes as that text, for Node to parse (jsonb would be parsed here, printed
  // and parsed again by the driver).
  returning: `q.id, q.workspace_id AS "workspaceId", q.provider, q.provider_event_id AS "providerEventId", q.type, l.attempts,
    ${payloadColumns('q')}, q.received_at AS "receivedAt", q.recovered, l.keys AS "serialKeys"`,
  serialKeys: eventSerialKeys,
  // The workspace and provider too: queries that pick one workspace's events by status (the failed and stuck events
  // a parity check reads, the console's filters) were planned on the unique (workspace, provider, event id) index
  // when only the status was known, reading every event of the workspace to find its few failed ones (72 ms at
  // 12,000 events, every check run, growing with the table; 1.5 ms with these analysed).
  plannedColumns: ['workspace_id', 'provider', 'status', 'next_attempt_at'],
};

/** Claims up to `limit` due events for `workerId` until the lease expires (the attempt counted up front). */
export async function claimDueEvents(db: Db, workerId: string, limit: number, leaseSeconds: number): Promise<ClaimedEvent[]> {
  const rows = await claimInOrder<ClaimedEvent & { rawPayload: string | null }>(db, EVENT_QUEUE, { workerId, limit, leaseSeconds });
  // An event whose text is unreadable after all runs without a payload and fails.
  return rows.map(withParsedPayload);
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
  // A claim in flight is dropped: its worker finds it gone at its finish and writes nothing. The event's row is
  // locked first (a batch working it is waited for), as a batch does, so the two cannot deadlock.
  const { rows } = await db.query<EventSummary>(
    `WITH requeued AS (
       UPDATE events SET status = 'received', attempts = 0, error = NULL, processed_at = NULL, replayed_at = now(),
         next_attempt_at = now()
       WHERE workspace_id = $1 AND id = $2 AND ${hasPayload('events')} RETURNING ${SUMMARY}
     ), dropped AS (DELETE FROM event_leases WHERE id IN (SELECT id FROM requeued))
     SELECT * FROM requeued`,
    [workspaceId, id],
  );
  return rows[0];
}

export interface EventFilter {
  workspaceId: string;
  provider?: string | undefined;
  type?: string | undefined;
  /** Every type starting with this text (a family: `customer.subscription.`); not with `type`. */
  typePrefix?: string | undefined;
  status?: EventStatus | undefined;
  since?: Date | undefined;
  before?: string | undefined;
  /** Only ids above this one (the live tail). */
  after?: string | undefined;
  /** Ids to leave out (the tail's rows already sent). */
  exclude?: string[] | undefined;
  /** Oldest first instead of newest first (the live tail sends in arrival order). */
  oldestFirst?: boolean | undefined;
  limit: number;
}

const PROVIDERS = ['stripe', 'piano', 'custom'] as const;

/** One UNION ALL branch per provider, the provider a constant in each (they are fixed names, never input).
 *  Given the provider as a join parameter instead, the planner cannot tell a provider with millions of events
 *  from one with none, and walks the primary key backwards through the whole history hoping for an early
 *  match: 9 s for the health view's lag at 10 million events. */
const perProvider = (branch: (provider: string) => string) => PROVIDERS.map((p) => `(${branch(`'${p}'`)})`).join(' UNION ALL ');
const STATUSES: EventStatus[] = ['received', 'processed', 'ignored', 'failed'];
// Ids are made by the application and received_at by the database: a `since` bound on ids is widened by this
// much so a clock skew between the two never hides an event (the exact received_at test still applies).
const CLOCK_SKEW_MS = 60_000;

/**
 * Newest first, keyset-paged by id. Each filter combination is a range scan of one index in id order, so a
 * page costs the same wherever the cursor is and however few rows match (migrations 0010, 0040):
 * a type or a family of types → (workspace, type, provider, status, id), see typesPage; provider and/or status →
 * (workspace, provider, status, id); neither → (workspace, id). A column of the index the filter leaves open is
 * one range per value (four statuses, three providers), merged: each range stops after `limit` rows. `since`
 * becomes a lower id bound (ids start with their creation time), so a scan stops at the oldest row that can match
 * instead of running to the end of the workspace's history.
 */
export async function listEvents(db: Queryable, f: EventFilter): Promise<EventSummary[]> {
  const params: unknown[] = [f.workspaceId];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = ['workspace_id = $1'];
  if (f.since !== undefined) {
    where.push(`received_at >= ${p(f.since)}`, `id >= ${p(idFloor('ev', f.since.getTime() - CLOCK_SKEW_MS))}`);
  }
  if (f.before !== undefined) where.push(`id < ${p(f.before)}`);
  if (f.after !== undefined) where.push(`id > ${p(f.after)}`);
  if (f.exclude !== undefined && f.exclude.length > 0) where.push(`NOT (id = ANY(${p(f.exclude)}::text[]))`);
  const order = f.oldestFirst ? 'ASC' : 'DESC';
  const limit = p(f.limit);
  const statuses = f.status !== undefined ? [f.status] : STATUSES;
  if (f.type !== undefined || f.typePrefix !== undefined) {
    const provider = f.provider !== undefined ? p(f.provider) : undefined;
    const pairs =
      f.type === undefined
        ? familyPairs(p(f.typePrefix), provider)
        : provider !== undefined
          ? `SELECT ${p(f.type)}::text AS type, ${provider}::text AS provider`
          : pairWalk(p(f.type));
    const sql = typesPage(where, pairs, p(statuses), order, limit);
    return (await db.query<EventSummary>(PLANNED_PER_CALL + sql, params)).rows;
  }
  // Planned per call: a generic plan, blind to how far back `since` or a cursor reaches, walked the covering
  // (workspace, id) index of 0032 for a week's failed events and dropped every other one on the way (30 ms at
  // 10 million events, against 1 ms on the (workspace, provider, status, id) ranges the values call for).
  const select = (extra: string[]) =>
    `SELECT ${SUMMARY} FROM events WHERE ${[...where, ...extra].join(' AND ')} ORDER BY id ${order} LIMIT ${limit}`;
  // The equality columns of the (workspace, provider, status, id) index, each with the values to merge over when
  // the filter leaves it open.
  const ranges: [string, readonly string[]][] =
    f.provider !== undefined || f.status !== undefined
      ? [
          ['provider', f.provider !== undefined ? [f.provider] : PROVIDERS],
          ['status', statuses],
        ]
      : [];
  let branches: string[][] = [[]];
  for (const [column, values] of ranges) branches = branches.flatMap((b) => values.map((v) => [...b, `${column} = ${p(v)}`]));
  const sql =
    PLANNED_PER_CALL +
    (branches.length === 1
      ? select(branches[0]!)
      : `SELECT * FROM (${branches.map((b) => `(${select(b)})`).join(' UNION ALL ')}) page ORDER BY id ${order} LIMIT ${limit}`);
  const { rows } = await db.query<EventSummary>(sql, params);
  return rows;
}

/**
 * SQL: the (type, provider) pairs the workspace has events of (only those of `type`, a parameter, when given),
 * found by skipping through the (workspace, type, provider, status, id) index from one pair to the next: one index
 * probe per pair, however many events each has. A caller may append a WHERE on `type` and `provider`.
 */
function pairWalk(type?: string): string {
  const only = type !== undefined ? ` AND e.type = ${type}` : '';
  return `WITH RECURSIVE walk(type, provider) AS (
      (SELECT e.type, e.provider FROM events e WHERE e.workspace_id = $1${only} ORDER BY e.type, e.provider LIMIT 1)
      UNION ALL
      SELECT next.type, next.provider FROM walk CROSS JOIN LATERAL (
        SELECT e.type, e.provider FROM events e
        WHERE e.workspace_id = $1${only} AND (e.type, e.provider) > (walk.type, walk.provider)
        ORDER BY e.type, e.provider LIMIT 1
      ) next
    )
    SELECT type, provider FROM walk`;
}

/**
 * SQL: the pairs of a family of types (`customer.subscription.`), and of `provider` when it is given. All the
 * workspace's pairs are walked, not a range from the prefix: under a linguistic collation (glibc's en_US.UTF-8, the
 * default of many servers) the types sharing a prefix neither sit together nor inside `>= 'customer.' AND <
 * 'customer/'` (punctuation counts only to break ties there: `customer.cash_balance_transaction.created`,
 * `customer_cash_balance_transaction.created`, `customer.created`, `customer.subscription.created`, `customers.x`,
 * `customer.zeta` sort in that order, and that range holds none of them); `type COLLATE "C"` ranges cannot use the
 * index. A provider that never sent a type of the family leaves no pair, so the page reads nothing more: with the
 * provider after the type in the index, no range holds another provider's events (before migration 0040 such a page
 * read every event of the family, 0.5-1.2 s at 2.4 million).
 */
function familyPairs(prefix: string, provider: string | undefined): string {
  return `${pairWalk()} WHERE starts_with(type, ${prefix})${provider !== undefined ? ` AND provider = ${provider}` : ''}`;
}

/**
 * A page of the events of the (type, provider) pairs that `pairs` (SQL) selects, in one statement: for each pair
 * and status, the first `limit` ids of that range of the (workspace, type, provider, status, id) index in the
 * page's order, after the cursor and within the other filters; the page is the first `limit` of them all, then read
 * whole by id. Each range reads at most `limit` index entries, from the index alone unless `since` is given.
 *
 * A UNION ALL branch per pair and status, merged in id order like the statuses of a provider, reads fewer rows but
 * is planned anew with each call (as the list's statements are): 0.3 ms of planning per branch, 26 ms for the 88
 * branches of `customer.*` on Stripe's types, against 0.6 ms for this statement (docs/scaling.md).
 */
function typesPage(where: string[], pairs: string, statuses: string, order: 'ASC' | 'DESC', limit: string): string {
  return `WITH pairs AS MATERIALIZED (${pairs})
    SELECT ${SUMMARY} FROM events WHERE workspace_id = $1 AND id IN (
      SELECT hit.id
      FROM pairs CROSS JOIN unnest(${statuses}::text[]) AS s(status)
        CROSS JOIN LATERAL (
          SELECT id FROM events
          WHERE ${where.join(' AND ')} AND type = pairs.type AND provider = pairs.provider AND status = s.status
          ORDER BY id ${order} LIMIT ${limit}
        ) hit
      ORDER BY hit.id ${order} LIMIT ${limit}
    )
    ORDER BY id ${order}`;
}

export async function getEvent(db: Queryable, workspaceId: string, id: string): Promise<EventWithPayload | undefined> {
  const { rows } = await db.query<EventWithPayload>(
    `SELECT ${SUMMARY}, ${payloadOf('events')} AS payload FROM events WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, id],
  );
  return rows[0];
}

export interface ProviderEventStats {
  provider: string;
  status: EventStatus;
  /** Exact up to EVENT_COUNT_LIMIT; a count equal to it means "at least". */
  count: number;
  /** Receipt time of the newest event with this provider and status. */
  lastReceivedAt: Date;
}

/** Counts in the health view stop here: each is then an index-only scan of at most this many entries, instead
 *  of a count over the workspace's whole history on every look at the page. */
export const EVENT_COUNT_LIMIT = 100_000;

/** Per provider and status: a count capped at EVENT_COUNT_LIMIT and the newest receipt, each from the
 *  (workspace, provider, status, id) index. Pairs without any event are left out. */
export async function eventStatsByProvider(db: Queryable, workspaceId: string): Promise<ProviderEventStats[]> {
  const { rows } = await db.query<ProviderEventStats>(
    `SELECT * FROM (${STATUSES.map((status) =>
      perProvider(
        (p) => `SELECT ${p} AS provider, '${status}' AS status,
          (SELECT count(*)::int FROM (SELECT 1 FROM events WHERE workspace_id = $1 AND provider = ${p} AND status = '${status}' LIMIT $2) c) AS count,
          (SELECT received_at FROM events WHERE workspace_id = $1 AND provider = ${p} AND status = '${status}' ORDER BY id DESC LIMIT 1)
            AS "lastReceivedAt"`,
      ),
    ).join(' UNION ALL ')}) stats WHERE "lastReceivedAt" IS NOT NULL`,
    [workspaceId, EVENT_COUNT_LIMIT],
  );
  return rows;
}

/** How many of the newest ignored events per provider `unhandledTypes` looks at. */
const UNHANDLED_WINDOW = 10_000;

/** Types ignored for want of a handler among each provider's newest UNHANDLED_WINDOW ignored events; events
 *  ignored by a rule (demo workspace, connection mode) carry their reason in `error` and are not "unhandled". */
export async function unhandledTypes(
  db: Queryable,
  workspaceId: string,
  window: number = UNHANDLED_WINDOW,
): Promise<{ provider: string; type: string; count: number }[]> {
  const { rows } = await db.query<{ provider: string; type: string; count: number }>(
    `SELECT r.provider, r.type, count(*)::int AS count
     FROM (${perProvider(
       (p) =>
         `SELECT provider, type, error FROM events WHERE workspace_id = $1 AND provider = ${p} AND status = 'ignored' ORDER BY id DESC LIMIT $2`,
     )}) r
     WHERE r.error IS NULL GROUP BY r.provider, r.type ORDER BY count DESC, r.type LIMIT 100`,
    [workspaceId, window],
  );
  return rows;
}

export interface LagStats {
  provider: string;
  pending: number;
  /** Age in seconds of the oldest event still waiting to be processed; 0 when none waits. */
  oldestPendingSeconds: number;
  /** Mean seconds from receipt to processing over the newest RECENT_WINDOW processed events that were processed
   *  in the last 5 minutes, null without any (and always null across all workspaces). */
  recentMeanSeconds: number | null;
}

const RECENT_WINDOW = 1_000;

/** The backlog is read from the queue's partial index (only waiting events are in it), the recent mean from
 *  the newest processed events: neither grows with the stored history. */
export async function processingLag(db: Queryable, workspaceId: string | null): Promise<LagStats[]> {
  const { rows } = await db.query<LagStats>(
    `WITH pending AS (
       SELECT provider, count(*)::int AS pending, EXTRACT(EPOCH FROM now() - min(COALESCE(replayed_at, received_at)))::float8 AS oldest
       FROM events WHERE status = 'received' AND ($1::text IS NULL OR workspace_id = $1) GROUP BY provider
     ), recent AS (
       SELECT r.provider, avg(EXTRACT(EPOCH FROM r.processed_at - COALESCE(r.replayed_at, r.received_at)))::float8 AS mean
       FROM (${perProvider(
         (p) => `SELECT provider, processed_at, received_at, replayed_at FROM events
           WHERE workspace_id = $1 AND provider = ${p} AND status = 'processed' ORDER BY id DESC LIMIT $2`,
       )}) r
       WHERE r.processed_at > now() - interval '5 minutes' GROUP BY r.provider
     )
     SELECT provider, COALESCE(pending.pending, 0) AS pending, COALESCE(pending.oldest, 0) AS "oldestPendingSeconds",
            recent.mean AS "recentMeanSeconds"
     FROM pending FULL JOIN recent USING (provider)`,
    [workspaceId, RECENT_WINDOW],
  );
  return rows;
}

/** Events waiting and failed, every workspace, by provider and status: the two counts an alert needs, each
 *  bounded by how many such events exist (never a count over the whole history). Processed and ignored
 *  totals are the counter sluice_event_outcomes_total. */
export async function countWaitingAndFailed(db: Queryable): Promise<{ provider: string; status: EventStatus; count: number }[]> {
  const { rows } = await db.query<{ provider: string; status: EventStatus; count: number }>(
    `SELECT provider, 'received' AS status, count(*)::int AS count FROM events WHERE status = 'received' GROUP BY provider
     UNION ALL
     SELECT p.provider, 'failed', sum(c.n)::int FROM workspaces w CROSS JOIN unnest($1::text[]) p (provider)
     CROSS JOIN LATERAL (SELECT count(*) AS n FROM events WHERE workspace_id = w.id AND provider = p.provider AND status = 'failed') c
     GROUP BY p.provider HAVING sum(c.n) > 0`,
    [PROVIDERS],
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
  const { rows } = await db.query<ReplayableEvent & { rawPayload: string | null }>(
    `SELECT id, workspace_id AS "workspaceId", provider, provider_event_id AS "providerEventId", type, ${payloadColumns('events')},
            date_trunc('milliseconds', COALESCE(provider_created_at, received_at)) AS "providerCreatedAt", received_at AS "receivedAt"
     FROM events
     WHERE workspace_id = $1 AND status = 'processed'
       AND ($2::timestamptz IS NULL OR (date_trunc('milliseconds', COALESCE(provider_created_at, received_at)), id) > ($2, $3))
     ORDER BY date_trunc('milliseconds', COALESCE(provider_created_at, received_at)), id LIMIT $4`,
    [workspaceId, after?.ts ?? null, after?.id ?? '', limit],
  );
  return rows.map(withParsedPayload);
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

export interface EventRef {
  id: string;
  /** The object the event is about (a Stripe object's id). */
  objectId: string | null;
  /** The provider's id of the customer it concerns (a Stripe object's customer, a Piano user). */
  customerRef: string | null;
}

/** What the events of a page are about, read from their payloads by primary key (a page's ids, at most 500). */
export async function eventRefs(db: Queryable, workspaceId: string, ids: string[]): Promise<EventRef[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<EventRef>(
    `SELECT e.id, p->'data'->'object'->>'id' AS "objectId", COALESCE(p->'data'->'object'->>'customer', p->>'uid') AS "customerRef"
     FROM events e, LATERAL (SELECT ${payloadOf('e')} AS p OFFSET 0) AS x
     WHERE e.workspace_id = $1 AND e.id = ANY($2::text[])`,
    [workspaceId, ids.slice(0, 500)],
  );
  return rows;
}

/** An event's bookkeeping beyond its summary: how it arrived and the size of the raw body kept. */
export async function eventRecord(
  db: Queryable,
  workspaceId: string,
  id: string,
): Promise<{ inboundMethod: string | null; rawBytes: number | null; rawPrunedAt: Date | null } | undefined> {
  const { rows } = await db.query<{ inboundMethod: string | null; rawBytes: number | null; rawPrunedAt: Date | null }>(
    `SELECT inbound_method AS "inboundMethod", COALESCE(octet_length(raw_body), octet_length(raw_bytes))::int AS "rawBytes",
       raw_pruned_at AS "rawPrunedAt"
     FROM events WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, id],
  );
  return rows[0];
}
