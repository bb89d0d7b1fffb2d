// Schedule slots. Each (schedule, slot) is claimed by inserting its row (INSERT … ON CONFLICT DO NOTHING): the
// one instance whose insert lands runs the slot, on every database (advisory locks exclude nothing on PGlite,
// a row does). The row is also the run's history (status, result, error). Times come from the caller's clock,
// never the database's now(), so an injected clock drives staleness and pruning as well as the slots.
import type { Queryable } from '../port.js';

export interface ScheduleRunRow {
  schedule: string;
  slot: Date;
  owner: string;
  status: 'running' | 'succeeded' | 'failed';
  attempts: number;
  startedAt: Date;
  heartbeatAt: Date;
  finishedAt: Date | null;
  result: unknown;
  error: string | null;
}

type Raw = {
  schedule: string;
  slot: Date;
  owner: string;
  status: ScheduleRunRow['status'];
  attempts: number;
  started_at: Date;
  heartbeat_at: Date;
  finished_at: Date | null;
  result: unknown;
  error: string | null;
};

const toRow = (r: Raw): ScheduleRunRow => ({
  schedule: r.schedule,
  slot: r.slot,
  owner: r.owner,
  status: r.status,
  attempts: r.attempts,
  startedAt: r.started_at,
  heartbeatAt: r.heartbeat_at,
  finishedAt: r.finished_at,
  result: r.result,
  error: r.error,
});

/**
 * Claims a slot: true when this caller's row was inserted (it runs the slot), false when the slot was already
 * claimed — or, with `unlessRunningSince`, when an earlier slot of the same schedule is still running with a
 * heartbeat at or after that time (runs of one schedule do not pile up behind a slow one).
 */
export async function claimScheduleSlot(
  db: Queryable,
  claim: { schedule: string; slot: Date; owner: string; now: Date; unlessRunningSince?: Date },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO schedule_runs (schedule, slot, owner, status, attempts, started_at, heartbeat_at)
     SELECT $1, $2, $3, 'running', 1, $4, $4
     WHERE $5::timestamptz IS NULL OR NOT EXISTS (
       SELECT 1 FROM schedule_runs WHERE schedule = $1 AND slot < $2 AND status = 'running' AND heartbeat_at >= $5)
     ON CONFLICT (schedule, slot) DO NOTHING`,
    [claim.schedule, claim.slot, claim.owner, claim.now, claim.unlessRunningSince ?? null],
  );
  return rowCount === 1;
}

/** The owner's sign of life; false when the slot is no longer this owner's (taken over, or finished). */
export async function beatScheduleSlot(db: Queryable, key: { schedule: string; slot: Date; owner: string; now: Date }): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE schedule_runs SET heartbeat_at = $4 WHERE schedule = $1 AND slot = $2 AND owner = $3 AND status = 'running'`,
    [key.schedule, key.slot, key.owner, key.now],
  );
  return rowCount === 1;
}

/** Records how the slot ended; false (nothing written) when it is no longer this owner's. */
export async function finishScheduleSlot(
  db: Queryable,
  end: { schedule: string; slot: Date; owner: string; now: Date; status: 'succeeded' | 'failed'; result?: unknown; error?: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE schedule_runs SET status = $4, finished_at = $5, heartbeat_at = $5, result = $6::jsonb, error = $7
     WHERE schedule = $1 AND slot = $2 AND owner = $3 AND status = 'running'`,
    [
      end.schedule,
      end.slot,
      end.owner,
      end.status,
      end.now,
      end.result === undefined ? null : JSON.stringify(end.result),
      end.error ?? null,
    ],
  );
  return rowCount === 1;
}

/** Stores a result while the slot still runs (the cron route writes its run ids before it answers). */
export async function setScheduleSlotResult(
  db: Queryable,
  key: { schedule: string; slot: Date; owner: string },
  result: unknown,
): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE schedule_runs SET result = $4::jsonb WHERE schedule = $1 AND slot = $2 AND owner = $3`, [
    key.schedule,
    key.slot,
    key.owner,
    JSON.stringify(result),
  ]);
  return rowCount === 1;
}

export async function findScheduleRun(db: Queryable, schedule: string, slot: Date): Promise<ScheduleRunRow | undefined> {
  const { rows } = await db.query<Raw>('SELECT * FROM schedule_runs WHERE schedule = $1 AND slot = $2', [schedule, slot]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** Whether the schedule has any run before this slot (it existed then: a slot missed since was missed while down). */
export async function hasScheduleRunBefore(db: Queryable, schedule: string, slot: Date): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM schedule_runs WHERE schedule = $1 AND slot < $2 LIMIT 1', [schedule, slot]);
  return rows.length > 0;
}

/** Running slots whose heartbeat is older than `staleBefore`: their instance stopped (or hangs). */
export async function listStaleScheduleRuns(db: Queryable, staleBefore: Date, limit = 100): Promise<ScheduleRunRow[]> {
  const { rows } = await db.query<Raw>(
    `SELECT * FROM schedule_runs WHERE status = 'running' AND heartbeat_at < $1 ORDER BY heartbeat_at LIMIT $2`,
    [staleBefore, limit],
  );
  return rows.map(toRow);
}

/**
 * Takes a stale running slot over (attempts + 1). The WHERE is re-checked on the locked row, so when two
 * instances try at once the second finds the fresh heartbeat of the first and gets nothing.
 */
export async function takeOverScheduleSlot(
  db: Queryable,
  t: { schedule: string; slot: Date; owner: string; now: Date; staleBefore: Date; maxAttempts: number },
): Promise<ScheduleRunRow | undefined> {
  const { rows } = await db.query<Raw>(
    `UPDATE schedule_runs SET owner = $3, attempts = attempts + 1, heartbeat_at = $4, error = NULL
     WHERE schedule = $1 AND slot = $2 AND status = 'running' AND heartbeat_at < $5 AND attempts < $6
     RETURNING *`,
    [t.schedule, t.slot, t.owner, t.now, t.staleBefore, t.maxAttempts],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** Marks a stale running slot failed (given up, or superseded by a later slot); false when it came back to life. */
export async function abandonScheduleSlot(
  db: Queryable,
  a: { schedule: string; slot: Date; now: Date; staleBefore: Date; error: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE schedule_runs SET status = 'failed', finished_at = $3, error = $5
     WHERE schedule = $1 AND slot = $2 AND status = 'running' AND heartbeat_at < $4`,
    [a.schedule, a.slot, a.now, a.staleBefore, a.error],
  );
  return rowCount === 1;
}

/** Claims a failed slot again for a retry (attempts + 1, bounded); undefined when it is not failed or used up. */
export async function retryFailedScheduleSlot(
  db: Queryable,
  r: { schedule: string; slot: Date; owner: string; now: Date; maxAttempts: number },
): Promise<ScheduleRunRow | undefined> {
  const { rows } = await db.query<Raw>(
    `UPDATE schedule_runs SET owner = $3, status = 'running', attempts = attempts + 1, heartbeat_at = $4,
       finished_at = NULL, error = NULL
     WHERE schedule = $1 AND slot = $2 AND status = 'failed' AND attempts < $5
     RETURNING *`,
    [r.schedule, r.slot, r.owner, r.now, r.maxAttempts],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/**
 * Deletes the history of slots older than `before`, except each schedule's latest row (it is how a restart
 * knows the schedule ran before and that the slots since were missed) and rows still running.
 */
export async function pruneScheduleRuns(db: Queryable, before: Date, limit = 5000): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM schedule_runs WHERE (schedule, slot) IN (
       SELECT r.schedule, r.slot FROM schedule_runs r
       WHERE r.slot < $1 AND r.status <> 'running'
         AND r.slot < (SELECT max(m.slot) FROM schedule_runs m WHERE m.schedule = r.schedule)
       LIMIT $2)`,
    [before, limit],
  );
  return rowCount;
}

/** The most recent runs, newest slot first (run history). */
export async function listScheduleRuns(db: Queryable, opts: { schedule?: string; limit: number }): Promise<ScheduleRunRow[]> {
  const { rows } = await db.query<Raw>(
    `SELECT * FROM schedule_runs WHERE $1::text IS NULL OR schedule = $1 ORDER BY slot DESC, schedule LIMIT $2`,
    [opts.schedule ?? null, opts.limit],
  );
  return rows.map(toRow);
}
