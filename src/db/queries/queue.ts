// The one leased queue, for every table that is worked off by claiming rows: events (processing), deliveries
// (outbound), and whatever comes next. A queue table has `status`, `next_attempt_at` and `attempts`; a row is due
// when its status is the queue's waiting status, its time has come, and no live lease holds it. Claims take rows
// with FOR UPDATE SKIP LOCKED, so any number of workers in any number of processes share one table without taking
// a row twice; a lease that is not renewed expires and the row is due again, so a dead worker's claims come back
// by themselves.
//
// The lease lives in the queued row itself (`locked_by`, `locked_until`), or in a narrow table of its own
// (QueueDef.leases: `id`, `worker`, `until`, `keys`, `attempts`) where the rows are large and indexed many ways:
// writing a lease into an event's row meant a new version of the whole row, with an entry in each of its indexes,
// for every claim. With a lease table the claim counts the attempt on the lease, and the finish writes it to the
// row; the row is still locked (FOR UPDATE) by the claim and by the transaction that works it, which is what
// keeps two workers apart. Whatever locks both locks the queued row first and its lease second (a claim, a batch, a
// finish, a release, a replay), so that no two of them can each hold what the other waits for.
//
// Table and column names come from the definitions below, never from input; values are always parameters.
import { utf8Prefix } from '../../lib/utf8-prefix.js';
import type { Db, Queryable } from '../port.js';

// First key of the two-key advisory lock space for serialized claims (any constant unique to this use).
const CLAIM_LOCK_CLASS = 0x5e_50_01;

export interface QueueDef {
  readonly table: 'events' | 'deliveries' | 'workflow_triggers' | 'workflow_steps';
  /** The table holding the leases, when they are not columns of the queued row (see above). */
  readonly leases?: 'event_leases';
  /** The status of a row waiting for work (and of a row due for a retry). */
  readonly waiting: string;
  /** Set when a row reaches a final status; cleared when it is scheduled again. */
  readonly finishedAt: string;
  /** Holds the reason of the last failed attempt. */
  readonly error: string;
  /** The most bytes of UTF-8 a reason keeps (the rest is cut): less where an index holds the column. */
  readonly errorMaxBytes: number;
  /** What a claim returns of each row (columns of alias q; with a lease table, l is the row's new lease; without
   *  one, `locked.taken_over` says whether the claim took the row over from an expired lease). */
  readonly returning: string;
  /**
   * Optional SQL choosing the candidate rows of a claim (one `id` column, at most $2 rows, $3… its own
   * parameters), for queues that spread work (e.g. at most K in flight per endpoint); the candidates are then
   * locked with SKIP LOCKED. Without it the claim takes the oldest due rows.
   */
  readonly candidates?: string;
  /**
   * Optional SQL keys of a row (a text[] for a table alias, without nulls): rows that share a key are never held by
   * two workers at once, and are claimed in queue order (the events of one customer, of one payment). Claims of
   * such a queue are serialized (see claimInOrder). Only with a lease table: the keys are kept on the lease.
   */
  readonly serialKeys?: (alias: string) => string;
  /** The columns the plans of the claim, and of other queries over the waiting rows, depend on (see
   *  refreshQueueStatistics). */
  readonly plannedColumns: readonly string[];
}

const due = (q: QueueDef, alias: string) =>
  `${alias}.status = '${q.waiting}' AND ${alias}.next_attempt_at <= now() AND ` +
  (q.leases
    ? `NOT EXISTS (SELECT 1 FROM ${q.leases} l WHERE l.id = ${alias}.id AND l.until > now())`
    : `(${alias}.locked_until IS NULL OR ${alias}.locked_until < now())`);

/**
 * Claims up to `limit` due rows for `workerId` until the lease expires. The attempt is counted up front, so a
 * row that crashes its worker every time still runs out of attempts.
 */
export async function claimBatch<T>(
  db: Queryable,
  q: QueueDef,
  o: { workerId: string; limit: number; leaseSeconds: number; params?: readonly unknown[] },
): Promise<T[]> {
  if (o.limit <= 0) return [];
  if (q.leases) return claimLeased<T>(db, q, q.leases, o);
  if (q.serialKeys) throw new Error(`queue ${q.table}: serial keys need a lease table`);
  const extra = o.params ?? [];
  // Candidates chosen by a spreading query can be taken by another worker between the choice and the lock:
  // those are skipped (SKIP LOCKED) and the due predicate checked again on the locked row.
  // The candidates (a few dozen) are found first, then each is locked through its primary key. Written as `id IN
  // (candidates)`, a table that grew faster than its statistics (a burst of deliveries into a fresh database)
  // let the planner walk every pending row and test each against the candidates instead (15-90 ms a claim).
  // The lock's scan has the key alone (LIMIT 1 keeps the due test out of it, in the level above, where it checks
  // the locked row's latest version): with the due test in it, the same stale statistics (no waiting row known
  // when the generic plan was made) led the planner to the partial index of waiting rows, read whole for every
  // candidate: 115 ms instead of 2 for 80 candidates among 10,000 new deliveries, until the next ANALYZE. A row
  // locked here and found not due stays locked until the claim commits, a few milliseconds later.
  // `locked.taken_over` (for QueueDef.returning): the row still carried the expired lease of a worker that never
  // finished it.
  const locked = q.candidates
    ? `WITH candidates AS (${q.candidates}),
       locked AS (SELECT l.id, l.taken_over FROM candidates c CROSS JOIN LATERAL (
         SELECT r.id, r.locked_by IS NOT NULL AS taken_over, r.status, r.next_attempt_at, r.locked_until FROM ${q.table} r
         WHERE r.id = c.id LIMIT 1 FOR UPDATE SKIP LOCKED) l
         WHERE ${due(q, 'l')})`
    : `WITH locked AS (SELECT id, locked_by IS NOT NULL AS taken_over FROM ${q.table} r WHERE ${due(q, 'r')}
       ORDER BY r.next_attempt_at, r.id LIMIT $2 FOR UPDATE SKIP LOCKED)`;
  const { rows } = await db.query<T>(
    `${locked}
     UPDATE ${q.table} q SET locked_by = $1, locked_until = now() + make_interval(secs => $${extra.length + 3}), attempts = q.attempts + 1
     FROM locked WHERE q.id = locked.id
     RETURNING ${q.returning}`,
    [o.workerId, o.limit, ...extra, o.leaseSeconds],
  );
  return rows;
}

/** The serial keys held by live leases of the lease table `leases`, as a claim reads them (found through the index
 *  on `until`, migration 0037). */
export const liveLeaseKeys = (leases: string) =>
  `SELECT DISTINCT k FROM ${leases} h CROSS JOIN LATERAL unnest(h.keys) AS k WHERE h.until > now()`;

/**
 * The claim of a queue whose leases have a table of their own: the due rows are found and locked as above, and a
 * lease is written for each (or an expired one taken over, the attempts it counted kept); the row itself is not
 * written. Its serial keys are computed once, here, and kept on the lease, where the next claims look for them.
 */
async function claimLeased<T>(
  db: Queryable,
  q: QueueDef,
  leases: string,
  o: { workerId: string; limit: number; leaseSeconds: number },
): Promise<T[]> {
  // Keys held by live leases: the few rows of the lease table, not the (much larger) set of waiting rows. The rows
  // come back in queue order, which is the order a batch runs the events of one object in.
  const keys = q.serialKeys ? q.serialKeys('r') : `'{}'::text[]`;
  const free = q.serialKeys ? `AND NOT (${q.serialKeys('r')} && ARRAY(${liveLeaseKeys(leases)}))` : '';
  const { rows } = await db.query<T>(
    `WITH locked AS (SELECT id FROM ${q.table} r WHERE ${due(q, 'r')} ${free} ORDER BY r.next_attempt_at, r.id LIMIT $2 FOR UPDATE SKIP LOCKED),
     leased AS (
       INSERT INTO ${leases} AS x (id, worker, until, keys, attempts)
       SELECT r.id, $1, now() + make_interval(secs => $3), ${keys}, r.attempts + 1 FROM ${q.table} r JOIN locked ON r.id = locked.id
       ON CONFLICT (id) DO UPDATE SET worker = EXCLUDED.worker, until = EXCLUDED.until, keys = EXCLUDED.keys, attempts = x.attempts + 1
         WHERE x.until < now()
       RETURNING x.id, x.attempts, x.keys)
     SELECT ${q.returning} FROM ${q.table} q JOIN leased l ON l.id = q.id ORDER BY q.next_attempt_at, q.id`,
    [o.workerId, o.limit, o.leaseSeconds],
  );
  return rows;
}

/** The planner settings of a claim's transaction (see claimInOrder), as a select list. */
export const CLAIM_PLANNER = `set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true),
  set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true),
  set_config('plan_cache_mode', 'force_generic_plan', true)`;

/**
 * The claim of a queue with a serial key. Claims run one at a time (an advisory lock, held to the commit of
 * the claim), each in a snapshot taken after the previous claim committed: so a claim sees every key held
 * and cannot take a later row of an object while an earlier one is being claimed beside it (SKIP LOCKED alone
 * would skip the earlier row and take the later). One short transaction per batch.
 */
export function claimInOrder<T>(db: Db, q: QueueDef, o: { workerId: string; limit: number; leaseSeconds: number }): Promise<T[]> {
  if (o.limit <= 0) return Promise.resolve([]);
  return db.transaction(async (tx) => {
    // The claim must walk the queue's index in order and stop at its limit, and find the held keys on the leases:
    // computing a serial key reads the row's payload. On a table that grew faster than autovacuum analyses it (a
    // burst into a fresh database), the planner believes only a few rows are due and prefers a bitmap scan and a
    // sort of the whole backlog: 60 ms instead of about 1 for 6,000 waiting events, growing with the backlog.
    // Those plans are ruled out for this transaction only. A plan left with no other way would then cost billions on
    // paper, and the server would compile it (JIT, half a second): a claim never gains from that. The live leases
    // have an index of their own (migration 0037): read whole, the lease table cost every claim a pass over all the
    // leases deleted since the last vacuum. With the other ways ruled out, the plan does not depend on the claim's
    // values, and the prepared statement's generic plan is used: PostgreSQL's default kept planning it again for each
    // claim (about 0.8 ms of a claim of 100 events, whose statement is long: the serial keys' expressions).
    await tx.query(`SELECT ${CLAIM_PLANNER}, pg_advisory_xact_lock($1, hashtext($2))`, [CLAIM_LOCK_CLASS, q.table]);
    return claimBatch<T>(tx, q, o);
  });
}

/**
 * Brings the planner's statistics of a queue table up to date when the table changed by more than its size
 * since they were taken (or was never analysed), and says whether it did. Autovacuum only looks once a minute
 * and then waits for 10 % of changes: a queue that grows from nothing to thousands of rows within that minute
 * (a first burst, a backlog of deliveries) is planned as if it were nearly empty, and the claims choose plans
 * that read every waiting row (deliveries: 2-50 ms a claim instead of 0.3). Only the queue's planned columns
 * are analysed, from a small sample; the row count comes with any ANALYZE. A role that
 * does not own the table gets a warning from PostgreSQL and nothing changes.
 */
export async function refreshQueueStatistics(db: Db, q: QueueDef): Promise<boolean> {
  const { rows } = await db.query<{ stale: boolean }>(
    `SELECT s.n_mod_since_analyze > 1000 + GREATEST(c.reltuples, 0) AS stale
     FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE c.oid = to_regclass($1)`,
    [q.table],
  );
  if (!rows[0]?.stale) return false;
  // ANALYZE copies its whole sample into memory as full rows, whatever columns it is given: 30,000 events of
  // ~3 KB inline made the backend ~80 MB for a moment. 3,000 rows (target 10) place a queue's few status and time
  // values just as well. The sample size applies to this one statement only.
  await db.transaction(async (tx) => {
    await tx.exec('SET LOCAL default_statistics_target = 10');
    await tx.exec(`ANALYZE ${q.table} (${q.plannedColumns.join(', ')})`);
  });
  return true;
}

/**
 * Heartbeat: pushes the lease of claims still held by a live worker forward. Rows another transaction has locked
 * right now are skipped, never waited for. The heartbeat covers every lane of a worker in one statement, while a
 * lane's batch transaction locks its rows one by one (holdClaims, in id order): an UPDATE visiting them in its
 * own order (the heap's) could take a row the batch wants next while waiting for one the batch holds, a
 * deadlock that cost the batch its work and its events a whole lease (15 s) before anyone took them again. A
 * skipped row is locked by the transaction working it, so no claim can take it meanwhile; once that transaction
 * ends, the row is finished (or given back) and needs no lease.
 */
export async function renewLeases(
  db: Queryable,
  q: QueueDef,
  workerId: string,
  ids: readonly string[],
  leaseSeconds: number,
): Promise<void> {
  if (ids.length === 0) return;
  // A lease table: the batch locks the queued rows, not their leases, and deletes a lease only at its finish (a
  // lease skipped here is one being finished).
  await db.query(
    q.leases
      ? `WITH mine AS (SELECT id FROM ${q.leases} WHERE id = ANY($1::text[]) AND worker = $2 FOR UPDATE SKIP LOCKED)
         UPDATE ${q.leases} l SET until = now() + make_interval(secs => $3) FROM mine WHERE l.id = mine.id`
      : `WITH mine AS (
           SELECT id FROM ${q.table} WHERE id = ANY($1::text[]) AND locked_by = $2 AND status = '${q.waiting}' FOR UPDATE SKIP LOCKED)
         UPDATE ${q.table} r SET locked_until = now() + make_interval(secs => $3) FROM mine WHERE r.id = mine.id`,
    [ids, workerId, leaseSeconds],
  );
}

/** Gives claims back without counting the attempt (graceful shutdown, a row that must wait). */
export async function releaseClaims(db: Queryable, q: QueueDef, workerId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  // A lease table: the row keeps the attempts of earlier claims that died without a finish (rarely any).
  await db.query(
    q.leases
      ? `WITH rowsFirst AS (SELECT id FROM ${q.table} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE),
         gone AS (DELETE FROM ${q.leases} WHERE id IN (SELECT id FROM rowsFirst) AND worker = $2 RETURNING id, attempts)
         UPDATE ${q.table} r SET attempts = gone.attempts - 1 FROM gone
         WHERE r.id = gone.id AND r.status = '${q.waiting}' AND r.attempts < gone.attempts - 1`
      : `UPDATE ${q.table} SET locked_by = NULL, locked_until = NULL, attempts = GREATEST(attempts - 1, 0)
         WHERE id = ANY($1::text[]) AND locked_by = $2 AND status = '${q.waiting}'`,
    [ids, workerId],
  );
}

/** Frees every claim at once; only safe when this process is the sole worker of the queue (embedded database). */
export async function releaseAllClaims(db: Queryable, q: QueueDef): Promise<number> {
  if (q.leases) {
    // The attempts the claims counted stay counted, as they do on a row that holds its own lease.
    const { rows } = await db.query<{ n: number }>(
      `WITH gone AS (DELETE FROM ${q.leases} RETURNING id, attempts),
       counted AS (UPDATE ${q.table} r SET attempts = gone.attempts FROM gone
                   WHERE r.id = gone.id AND r.status = '${q.waiting}' AND r.attempts < gone.attempts)
       SELECT count(*)::int AS n FROM gone`,
    );
    return rows[0]!.n;
  }
  const { rowCount } = await db.query(
    `UPDATE ${q.table} SET locked_by = NULL, locked_until = NULL WHERE status = '${q.waiting}' AND locked_by IS NOT NULL`,
  );
  return rowCount;
}

/**
 * Row-locks the claims that are still this worker's, for the transaction that works them off, and returns
 * their ids. While the locks are held no other worker can take them over (its claim skips locked rows); a
 * claim already lost is left out before any work is done. Locked in id order, so two holders never deadlock.
 */
export async function holdClaims(db: Queryable, q: QueueDef, workerId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    q.leases
      ? `SELECT r.id FROM ${q.table} r JOIN ${q.leases} l ON l.id = r.id AND l.worker = $2
         WHERE r.id = ANY($1::text[]) ORDER BY r.id FOR UPDATE OF r`
      : `SELECT id FROM ${q.table} WHERE id = ANY($1::text[]) AND locked_by = $2 ORDER BY id FOR UPDATE`,
    [ids, workerId],
  );
  return new Set(rows.map((r) => r.id));
}

export interface ClaimOutcome {
  id: string;
  /** The row's new status: the waiting status schedules it again after `retryInSeconds`. */
  status: string;
  error: string | null;
  retryInSeconds: number | null;
}

/**
 * Records the outcome of many claims in one statement and frees them; a claim no longer this worker's is left
 * alone. Returns how many were recorded. The finish time is the clock's, not the transaction's start: a batch
 * runs at the end of its transaction, and its events' lag must include the time the batch took.
 */
export async function finishClaims(db: Queryable, q: QueueDef, workerId: string, outcomes: readonly ClaimOutcome[]): Promise<number> {
  if (outcomes.length === 0) return 0;
  const outcome = `${q.error} = o.error,
       ${q.finishedAt} = CASE WHEN o.status = '${q.waiting}' THEN NULL ELSE clock_timestamp() END,
       next_attempt_at = CASE WHEN o.retry IS NULL THEN r.next_attempt_at ELSE now() + make_interval(secs => o.retry) END`;
  const { rowCount } = await db.query(
    q.leases
      ? `WITH o AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::float8[]) AS o(id, status, error, retry)),
         rowsFirst AS (SELECT r.id FROM ${q.table} r JOIN o ON o.id = r.id ORDER BY r.id FOR UPDATE OF r),
         gone AS (DELETE FROM ${q.leases} l USING rowsFirst WHERE l.id = rowsFirst.id AND l.worker = $1 RETURNING l.id, l.attempts)
         UPDATE ${q.table} r SET status = o.status, attempts = gone.attempts, ${outcome}
         FROM gone JOIN o ON o.id = gone.id WHERE r.id = gone.id`
      : `UPDATE ${q.table} r SET status = o.status, locked_by = NULL, locked_until = NULL, ${outcome}
         FROM unnest($2::text[], $3::text[], $4::text[], $5::float8[]) AS o(id, status, error, retry)
         WHERE r.id = o.id AND r.locked_by = $1`,
    [
      workerId,
      outcomes.map((o) => o.id),
      outcomes.map((o) => o.status),
      outcomes.map((o) => (o.error === null ? null : utf8Prefix(o.error, q.errorMaxBytes))),
      outcomes.map((o) => o.retryInSeconds),
    ],
  );
  return rowCount;
}

/** Savepoints let one item of a batch fail alone inside the batch's transaction. */
export const savepoint = {
  /** Opens the savepoint the first item runs under. */
  open: (tx: Queryable) => tx.exec('SAVEPOINT queue_item'),
  /** Keeps what the item wrote and opens the next item's savepoint, in one round trip. */
  next: (tx: Queryable) => tx.exec('RELEASE SAVEPOINT queue_item; SAVEPOINT queue_item'),
  /** Undoes what the item wrote; the savepoint stays for the next item. */
  rollback: (tx: Queryable) => tx.exec('ROLLBACK TO SAVEPOINT queue_item'),
  close: (tx: Queryable) => tx.exec('RELEASE SAVEPOINT queue_item'),
};
