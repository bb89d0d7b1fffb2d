// Deliveries are the outbound queue: one row per message and endpoint, due when next_attempt_at has passed and
// no live sender holds it. Every attempt is a row of its own in delivery_attempts.
import type { Db, Queryable } from '../port.js';
import { newId } from '../../lib/ids.js';
import type { EndpointRow } from './endpoints.js';
import { matchesTypeSql, type MessageRow } from './messages.js';
import { claimBatch, releaseClaims, type QueueDef } from './queue.js';
import { parseKeptPayload } from './event-payload.js';

export interface ClaimedDelivery {
  id: string;
  workspaceId: string;
  endpointId: string;
  messageId: string;
  /** Attempts made including the one now starting. */
  attempts: number;
  /** The claim took the delivery over from a sender whose claim expired before it recorded its attempt. */
  takenOver: boolean;
}

/**
 * Deliveries in flight at once to an endpoint whose last attempt failed (and none has succeeded since): a failing
 * receiver is usually a dead or hanging one, whose requests hold their lanes for the whole timeout. Without this,
 * SLUICE_OUTBOUND_CONCURRENCY / SLUICE_ENDPOINT_CONCURRENCY dead endpoints (128 / 20: seven) took every lane and the
 * healthy ones waited for timeouts. The first success gives the endpoint its full share again.
 */
export const FAILING_ENDPOINT_CONCURRENCY = 2;

/**
 * The outbound queue. A claim takes due deliveries at most `perEndpoint` ($3) in flight per endpoint (counting
 * every sender's claims, less the claiming sender's own deliveries whose request has ended and which are only
 * being recorded, $4; FAILING_ENDPOINT_CONCURRENCY while the endpoint is failing), taken round-robin over the
 * endpoints, and within each endpoint's rate limit (deliveries per second, counting the last second's recorded
 * attempts and every claimed delivery, $4's too: an attempt whose request has ended is not recorded yet, and left
 * out it gave each claim of that window a full second's quota): a slow or dead endpoint fills its own slots and no
 * more, so the others keep flowing. A delivery in $4 is left out of the slot count only while it is still claimed
 * (the snapshot decides both): one recorded meanwhile is counted by neither.
 */
export const DELIVERY_QUEUE: QueueDef = {
  table: 'deliveries',
  waiting: 'pending',
  finishedAt: 'finished_at',
  error: 'last_error',
  errorMaxBytes: 4000,
  returning: `q.id, q.workspace_id AS "workspaceId", q.endpoint_id AS "endpointId", q.message_id AS "messageId", q.attempts,
    locked.taken_over AS "takenOver"`,
  plannedColumns: ['endpoint_id', 'status', 'next_attempt_at', 'locked_until', 'locked_by'],
  candidates: `
       SELECT d.id
       FROM endpoints e
       CROSS JOIN LATERAL (
         SELECT (count(*) FILTER (WHERE x.id <> ALL($4::text[])))::int AS n, count(*)::int AS started FROM deliveries x
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
         AND d.rn <= (CASE WHEN e.failing_since IS NULL THEN $3 ELSE LEAST($3, ${FAILING_ENDPOINT_CONCURRENCY}) END) - busy.n
         AND (e.rate_limit IS NULL OR d.rn <= e.rate_limit - busy.started - recent.n)
       -- Round-robin over the endpoints, each one's oldest first: the next free lane goes to the endpoint with the
       -- fewest deliveries out, not to the one with the oldest backlog (a dead endpoint's, which would win every lane).
       ORDER BY d.rn + busy.n, d.next_attempt_at LIMIT $2`,
};

/**
 * Claims up to `limit` due deliveries, spread over endpoints (see DELIVERY_QUEUE).
 *
 * With the generic plan of the claim's prepared statement: PostgreSQL's default keeps planning it for each
 * execution's values (its estimate of the generic plan is higher), about 1 ms of planning for a claim that runs in
 * about 3 (a third of the claim's cost, some 30 µs per delivery), and comes to the same plan: the laterals fix the
 * join order, each endpoint's due deliveries are read in index order up to the per-endpoint limit, and the rows are
 * then locked one by one through the primary key. The setting holds for this transaction only.
 */
export function claimDueDeliveries(
  db: Db,
  o: { workerId: string; limit: number; perEndpoint: number; notInFlight?: readonly string[]; leaseSeconds: number },
): Promise<ClaimedDelivery[]> {
  if (o.limit <= 0) return Promise.resolve([]);
  return db.transaction(async (tx) => {
    await tx.query(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`);
    return claimBatch<ClaimedDelivery>(tx, DELIVERY_QUEUE, { ...o, params: [o.perEndpoint, o.notInFlight ?? []] });
  });
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
  /** Seconds until the next attempt when the outcome is `retry`. */
  retryInSeconds: number | null;
}

/**
 * SQL: the fingerprint of message `m` (its event `e` joined as in messages_with_data), compared when an attempt is
 * recorded to learn whether an erasure rewrote the message while its request was out. A payload kept in its
 * event's raw body is fingerprinted as that text, without parsing it; an erasure writes the message's data into
 * its own row (services/crm/erase-customer.ts), which changes the fingerprint either way.
 */
const messageFingerprint = (m: string, e: string) =>
  `md5(COALESCE(${m}.data::text, ${e}.payload::text, CASE WHEN ${e}.raw_is_payload THEN ${e}.raw_body END))`;

/** The endpoints and messages a batch of claimed deliveries is sent with, each fetched once. */
export async function findDeliveryParts(
  db: Queryable,
  endpointIds: string[],
  messageIds: string[],
): Promise<{ endpoints: EndpointRow[]; messages: (MessageRow & { fingerprint: string })[] }> {
  const [endpoints, messages] = await Promise.all([
    db.query<EndpointRow>('SELECT * FROM endpoints WHERE id = ANY($1::text[])', [endpointIds]),
    // messages_with_data spelled out, so that a payload kept in its event's raw body comes as that text for Node
    // to parse: the view would parse it into jsonb and print it again for the driver to parse.
    db.query<MessageRow & { fingerprint: string; rawData: string | null }>(
      `SELECT m.id, m.workspace_id, m.type, COALESCE(m.data, e.payload) AS data,
              CASE WHEN m.data IS NULL AND e.raw_is_payload THEN e.raw_body END AS "rawData",
              m.source_provider, m.source_event_id, m.dedupe_key, m.created_at, m.test, m.recovered,
              ${messageFingerprint('m', 'e')} AS fingerprint
       FROM messages m LEFT JOIN events e ON m.data IS NULL AND e.id = m.data_event_id
       WHERE m.id = ANY($1::text[])`,
      [messageIds],
    ),
  ]);
  return {
    endpoints: endpoints.rows,
    messages: messages.rows.map(({ rawData, ...m }) => (rawData === null ? m : { ...m, data: parseKeptPayload(rawData) })),
  };
}

const unique = (ids: string[]) => [...new Set(ids)];

/**
 * Locks what recording a batch of attempts writes under, kind by kind in the order deletions take the same rows
 * (a workspace delete locks the workspace first, an endpoint delete the endpoint, and both cascade to
 * deliveries), and within a kind in id order: a delete running at the same time either waits for the record or
 * is seen by it (never a foreign-key violation on delivery_attempts), and two recorders never wait on each other
 * in a cycle. Endpoints are locked for update because the record moves their failure clock.
 *
 * Messages are share-locked because a customer erasure locks messages (FOR UPDATE) before it rewrites
 * deliveries: an erasure then either waits for the record and redacts the new attempts with the rest, or commits
 * first and the record sees the message's new fingerprint. A message whose data is its event's payload is
 * fingerprinted through the event row, which is not locked here: that is safe because an erasure that redacts
 * the event also writes the message's data into the message row (services/crm/erase-customer.ts), so the
 * message row itself changes and the lock re-reads it. An erasure locks its messages in no particular order,
 * so a batch that waits for one message while holding others could deadlock with it: unless `waitForMessages`,
 * a message held by someone else is skipped and reported in `busyMessages`, for the caller to record those
 * attempts alone, waiting.
 *
 * Answers the message fingerprint of each delivery that is still there with everything that owns it and still
 * claimed by `workerId`; one whose claim `workerId` no longer holds is in `claimLost` instead: a stop's deadline
 * gave it back, or its lease ran out and another sender took it over, and either noted this attempt as interrupted.
 * Its late record must change nothing, the endpoint's failure clock included (the delivery row is locked here, so
 * the answer holds until the transaction ends).
 */
export async function lockDeliveriesForRecord(
  db: Queryable,
  workerId: string,
  targets: { id: string; workspaceId: string; endpointId: string; messageId: string }[],
  o: { waitForMessages: boolean },
): Promise<{ fingerprints: Map<string, string>; busyMessages: Set<string>; claimLost: Set<string> }> {
  // One statement, one round trip: a UNION ALL runs its branches in order, and each materialized CTE is read
  // to its end (all its rows locked, in id order) before the next branch starts.
  const messageIds = unique(targets.map((t) => t.messageId));
  const { rows } = await db.query<{ kind: 'w' | 'e' | 'm' | 'd'; id: string; fingerprint: string | null; held: boolean | null }>(
    `WITH w AS MATERIALIZED (SELECT id FROM workspaces WHERE id = ANY($1::text[]) ORDER BY id FOR KEY SHARE),
          e AS MATERIALIZED (SELECT id FROM endpoints WHERE id = ANY($2::text[]) ORDER BY id FOR NO KEY UPDATE),
          m AS MATERIALIZED (SELECT m.id, ${messageFingerprint('m', 'ev')} AS fingerprint
                             FROM messages m LEFT JOIN events ev ON m.data IS NULL AND ev.id = m.data_event_id
                             WHERE m.id = ANY($3::text[])
                             ORDER BY m.id FOR SHARE OF m${o.waitForMessages ? '' : ' SKIP LOCKED'}),
          d AS MATERIALIZED (SELECT id, locked_by FROM deliveries WHERE id = ANY($4::text[]) ORDER BY id FOR UPDATE)
     SELECT 'w' AS kind, id, NULL AS fingerprint, NULL::boolean AS held FROM w
     UNION ALL SELECT 'e', id, NULL, NULL FROM e
     UNION ALL SELECT 'm', id, fingerprint, NULL FROM m
     UNION ALL SELECT 'd', id, NULL, locked_by IS NOT DISTINCT FROM $5 FROM d`,
    [unique(targets.map((t) => t.workspaceId)), unique(targets.map((t) => t.endpointId)), messageIds, targets.map((t) => t.id), workerId],
  );
  const of = (kind: string) => new Set(rows.filter((r) => r.kind === kind).map((r) => r.id));
  const [workspaces, endpoints, deliveries] = [of('w'), of('e'), of('d')];
  const messages = new Map(rows.filter((r) => r.kind === 'm').map((r) => [r.id, r.fingerprint!]));
  let busyMessages = new Set<string>();
  if (messages.size < messageIds.length && !o.waitForMessages) {
    const missing = messageIds.filter((id) => !messages.has(id));
    busyMessages = new Set(
      (await db.query<{ id: string }>('SELECT id FROM messages WHERE id = ANY($1::text[])', [missing])).rows.map((r) => r.id),
    );
  }
  const held = new Set(rows.filter((r) => r.kind === 'd' && r.held).map((r) => r.id));
  const fingerprints = new Map<string, string>();
  const claimLost = new Set<string>();
  for (const t of targets) {
    const fingerprint = messages.get(t.messageId);
    if (fingerprint !== undefined && workspaces.has(t.workspaceId) && endpoints.has(t.endpointId) && deliveries.has(t.id)) {
      if (held.has(t.id)) fingerprints.set(t.id, fingerprint);
      else claimLost.add(t.id);
    }
  }
  return { fingerprints, busyMessages, claimLost };
}

/**
 * Records a batch of attempts and moves each delivery on (done, due again after its retry delay, or failed) when
 * this worker still holds its claim, in one statement; also resets the failure clock of `succeededEndpoints` and
 * starts that of `failingEndpoints`, answering how long each of those has been failing, in seconds. Call under
 * lockDeliveriesForRecord.
 */
export async function recordAttempts(
  db: Queryable,
  workerId: string,
  attempts: AttemptRecord[],
  endpoints: { succeeded: string[]; failing: string[] },
): Promise<Map<string, number>> {
  const column = <K extends keyof AttemptRecord>(k: K) => attempts.map((a) => a[k]);
  const { rows } = await db.query<{ id: string; failing_for: number }>(
    `WITH input AS (
       SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[], $7::int[], $8::text[], $9::text[],
                            $10::text[], $11::float8[])
         AS t(id, delivery_id, endpoint_id, started_at, duration_ms, status_code, response_excerpt, error, outcome, retry_in)
     ), attempts AS (
       -- Only while this worker holds the claim: one it gave back at a stop's deadline, or one another sender took
       -- over after its lease ran out, has had this attempt noted as interrupted already.
       INSERT INTO delivery_attempts (id, delivery_id, endpoint_id, started_at, duration_ms, status_code, response_excerpt, error, outcome)
       SELECT i.id, i.delivery_id, i.endpoint_id, i.started_at, i.duration_ms, i.status_code, i.response_excerpt, i.error, i.outcome
       FROM input i JOIN deliveries d ON d.id = i.delivery_id AND d.locked_by = $1
     ), moved AS (
       UPDATE deliveries d
       SET status = CASE i.outcome WHEN 'succeeded' THEN 'succeeded' WHEN 'retry' THEN 'pending' ELSE 'failed' END,
           last_status_code = i.status_code, last_error = i.error, locked_by = NULL, locked_until = NULL,
           next_attempt_at = now() + make_interval(secs => COALESCE(i.retry_in, 0)),
           finished_at = CASE WHEN i.outcome = 'retry' THEN NULL ELSE now() END
       FROM input i WHERE d.id = i.delivery_id AND d.locked_by = $1
     ), succeeded AS (
       UPDATE endpoints SET failing_since = NULL, last_success_at = now() WHERE id = ANY($12::text[])
     )
     UPDATE endpoints SET failing_since = COALESCE(failing_since, now()) WHERE id = ANY($13::text[])
     RETURNING id, extract(epoch FROM now() - failing_since)::float8 AS failing_for`,
    [
      workerId,
      column('id'),
      column('deliveryId'),
      column('endpointId'),
      attempts.map((a) => a.startedAt.toISOString()),
      column('durationMs'),
      column('statusCode'),
      column('responseExcerpt'),
      column('error'),
      column('outcome'),
      column('retryInSeconds'),
      endpoints.succeeded,
      endpoints.failing,
    ],
  );
  return new Map(rows.map((r) => [r.id, r.failing_for]));
}

/** Gives claims back without counting the attempt (graceful shutdown, an endpoint paused meanwhile). */
export function releaseDeliveryClaims(db: Queryable, workerId: string, ids: string[]): Promise<void> {
  return releaseClaims(db, DELIVERY_QUEUE, workerId, ids);
}

/** Frees every claim at once, answering the deliveries freed; only safe when this process is the sole sender
 *  (embedded database). The attempts the claims counted stay counted (see recordInterruptedAttempts). */
export async function releaseAllDeliveryClaims(db: Queryable): Promise<{ id: string; endpointId: string }[]> {
  const { rows } = await db.query<{ id: string; endpointId: string }>(
    `UPDATE deliveries SET locked_by = NULL, locked_until = NULL
     WHERE status = '${DELIVERY_QUEUE.waiting}' AND locked_by IS NOT NULL
     RETURNING id, endpoint_id AS "endpointId"`,
  );
  return rows;
}

/**
 * The error of the attempt noted for a delivery whose sender stopped while it held the delivery's claim: its
 * attempt was counted when it was claimed, and the history would otherwise show one attempt fewer than the count
 * (and nothing of a request the receiver may have got).
 */
export const INTERRUPTED_ATTEMPT_ERROR =
  'interrupted: the sender stopped (a crash, kill -9, or the database out of reach for longer than the claim) before ' +
  'recording this attempt; the request may or may not have reached the receiver, and the next attempt has the same webhook-id';

/** The error of the attempt noted for a delivery whose request was still out when a stop's deadline came. */
export const STOPPED_ATTEMPT_ERROR =
  'interrupted: Sluice was stopping and the receiver had not answered within SLUICE_SHUTDOWN_TIMEOUT_MS; the request may ' +
  'or may not have reached the receiver, and the next attempt has the same webhook-id';

/**
 * At a stop's deadline: frees the claims this worker still holds among `ids` and notes each one's attempt as
 * interrupted, keeping it counted (its request was out: the receiver may have it). Answers how many were freed.
 */
export async function interruptDeliveryClaims(db: Queryable, workerId: string, ids: readonly string[], now: number): Promise<number> {
  if (ids.length === 0) return 0;
  const { rows } = await db.query<{ n: number }>(
    `WITH freed AS (
       UPDATE deliveries SET locked_by = NULL, locked_until = NULL
       WHERE id = ANY($1::text[]) AND locked_by = $2 AND status = '${DELIVERY_QUEUE.waiting}'
       RETURNING id, endpoint_id
     ), noted AS (
       INSERT INTO delivery_attempts (id, delivery_id, endpoint_id, started_at, duration_ms, error, outcome)
       SELECT t.attempt_id, f.id, f.endpoint_id, $4, 0, $5, 'retry'
       FROM unnest($1::text[], $3::text[]) AS t(delivery_id, attempt_id) JOIN freed f ON f.id = t.delivery_id
     )
     SELECT count(*)::int AS n FROM freed`,
    [ids, workerId, ids.map(() => newId('att', now)), new Date(now), STOPPED_ATTEMPT_ERROR],
  );
  return rows[0]!.n;
}

/** Notes an interrupted attempt (outcome retry: the delivery is due again) for each delivery, started `now`. */
export async function recordInterruptedAttempts(
  db: Queryable,
  deliveries: readonly { id: string; endpointId: string }[],
  now: number,
): Promise<void> {
  if (deliveries.length === 0) return;
  await db.query(
    `INSERT INTO delivery_attempts (id, delivery_id, endpoint_id, started_at, duration_ms, error, outcome)
     SELECT t.id, t.delivery_id, t.endpoint_id, $4, 0, $5, 'retry'
     FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, delivery_id, endpoint_id)
     JOIN deliveries d ON d.id = t.delivery_id`,
    [
      deliveries.map(() => newId('att', now)),
      deliveries.map((d) => d.id),
      deliveries.map((d) => d.endpointId),
      new Date(now),
      INTERRUPTED_ATTEMPT_ERROR,
    ],
  );
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
    /** The message's exact type. */
    messageType?: string | undefined;
    before?: string | undefined;
    limit: number;
  },
): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY} FROM deliveries d JOIN messages m ON m.id = d.message_id
     WHERE d.workspace_id = $1 AND ($2::text IS NULL OR d.endpoint_id = $2) AND ($3::text IS NULL OR d.message_id = $3)
       AND ($4::text IS NULL OR d.status = $4) AND ($5::text IS NULL OR d.id < $5) AND ($7::text IS NULL OR m.type = $7)
     ORDER BY d.id DESC LIMIT $6`,
    [o.workspaceId, o.endpointId ?? null, o.messageId ?? null, o.status ?? null, o.before ?? null, o.limit, o.messageType ?? null],
  );
  return rows;
}

export interface DeliveryFilter {
  workspaceId: string;
  endpointId: string;
  status?: string | undefined;
  messageType?: string | undefined;
}

// The deliveries of one endpoint a filter matches, newest first, at most $5: the same rows listDeliveries pages
// through (on the deliveries_endpoint index), so a bulk action takes what the list shows.
const MATCHING = `SELECT d.id FROM deliveries d JOIN messages m ON m.id = d.message_id
  WHERE d.workspace_id = $1 AND d.endpoint_id = $2 AND ($3::text IS NULL OR d.status = $3) AND ($4::text IS NULL OR m.type = $4)
  ORDER BY d.id DESC LIMIT $5`;

/** How many deliveries a filter matches, counting no further than `cap` (a bounded count, never the table). */
export async function countMatchingDeliveries(db: Queryable, f: DeliveryFilter, cap: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${MATCHING}) x`, [
    f.workspaceId,
    f.endpointId,
    f.status ?? null,
    f.messageType ?? null,
    cap,
  ]);
  return rows[0]!.n;
}

/**
 * Queues for one more attempt now the newest `limit` deliveries a filter matches, skipping those a sender holds
 * at this moment (they would go out twice at once). Answers how many were queued and how many were skipped.
 */
export async function requeueMatchingDeliveries(
  db: Queryable,
  f: DeliveryFilter,
  limit: number,
): Promise<{ queued: number; inFlight: number; matched: number }> {
  const { rows } = await db.query<{ queued: number; in_flight: number; matched: number }>(
    `WITH matched AS (${MATCHING}),
     locked AS (
       SELECT d.id, (d.status = 'pending' AND d.locked_until > now()) AS busy
       FROM deliveries d WHERE d.id IN (SELECT id FROM matched) ORDER BY d.id FOR UPDATE
     ),
     moved AS (
       UPDATE deliveries d SET status = 'pending', next_attempt_at = now(), finished_at = NULL, locked_by = NULL, locked_until = NULL
       FROM locked l WHERE d.id = l.id AND NOT l.busy
       RETURNING d.id
     )
     SELECT (SELECT count(*) FROM moved)::int AS queued, (SELECT count(*) FROM locked WHERE busy)::int AS in_flight,
            (SELECT count(*) FROM locked)::int AS matched`,
    [f.workspaceId, f.endpointId, f.status ?? null, f.messageType ?? null, limit],
  );
  const r = rows[0]!;
  return { queued: r.queued, inFlight: r.in_flight, matched: r.matched };
}

/** The newest `perEndpoint` deliveries of each endpoint, newest first: what a sparkline of recent outcomes draws. */
export async function recentDeliveryOutcomes(
  db: Queryable,
  endpointIds: string[],
  perEndpoint: number,
): Promise<{ endpoint_id: string; status: 'pending' | 'succeeded' | 'failed'; attempts: number }[]> {
  if (endpointIds.length === 0) return [];
  const { rows } = await db.query<{ endpoint_id: string; status: 'pending' | 'succeeded' | 'failed'; attempts: number }>(
    `SELECT e.id AS endpoint_id, r.status, r.attempts
     FROM unnest($1::text[]) AS e(id)
     CROSS JOIN LATERAL (SELECT status, attempts, id FROM deliveries WHERE endpoint_id = e.id ORDER BY id DESC LIMIT $2) r
     ORDER BY e.id, r.id DESC`,
    [endpointIds, perEndpoint],
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
