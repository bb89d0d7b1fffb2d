// What the lag sample measures, every minute, across every workspace: how late Stripe delivers webhooks, and how
// long stored events have waited to be processed. Neither read grows with the stored history.
import { idFloor } from '../../lib/ids.js';
import type { Queryable } from '../port.js';

/** Event ids are made by the application and received_at by the database: the id bound is widened by this much so
 *  a clock skew between the two never hides an event of the window (the exact received_at test still applies). */
const CLOCK_SKEW_MS = 60_000;

/** The newest this many events of a window make a workspace's p95: a burst of deliveries costs a bounded read. */
export const LAG_SAMPLE_LIMIT = 10_000;

export interface DeliveryLagSample {
  workspaceId: string;
  /** The 95th percentile of received − created, seconds. */
  p95Seconds: number;
  samples: number;
}

/**
 * Per workspace, the p95 of (received_at − the provider's created time) of the Stripe events received since
 * `since`. Each workspace's read is a range of the (workspace, id) index from the window's first possible id,
 * at most LAG_SAMPLE_LIMIT rows. Events a scan recovered are left out: they were never delivered, and their
 * receipt days later is not a delivery lag. Piano events carry no reliable creation time and are not sampled.
 * Workspaces without any such event in the window are left out.
 */
export async function stripeDeliveryLag(db: Queryable, since: Date, workspaceId?: string): Promise<DeliveryLagSample[]> {
  const { rows } = await db.query<DeliveryLagSample>(
    `SELECT w.id AS "workspaceId", s.p95 AS "p95Seconds", s.n AS samples
     FROM workspaces w CROSS JOIN LATERAL (
       SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY r.lag)::float8 AS p95, count(*)::int AS n FROM (
         SELECT GREATEST(0, EXTRACT(EPOCH FROM e.received_at - e.provider_created_at))::float8 AS lag FROM events e
         WHERE e.workspace_id = w.id AND e.id >= $1 AND e.received_at >= $2 AND e.provider = 'stripe'
           AND e.provider_created_at IS NOT NULL AND NOT e.recovered
         ORDER BY e.id DESC LIMIT $3
       ) r
     ) s
     WHERE s.n > 0 AND ($4::text IS NULL OR w.id = $4)`,
    [idFloor('ev', since.getTime() - CLOCK_SKEW_MS), since, LAG_SAMPLE_LIMIT, workspaceId ?? null],
  );
  return rows;
}

export interface Backlog {
  workspaceId: string;
  provider: string;
  /** Events waiting whose time has come (not those waiting for a retry later). */
  pending: number;
  /** When the oldest of them was queued: its receipt, or its replay. */
  oldestQueuedAt: Date;
  oldestEventId: string;
}

/**
 * Due unprocessed events per workspace and provider, read from the queue's partial index (only events waiting
 * to be processed are in it): the cost follows the backlog, not the history.
 */
export async function dueBacklog(db: Queryable, now: Date): Promise<Backlog[]> {
  const { rows } = await db.query<Backlog>(
    `SELECT DISTINCT ON (workspace_id, provider) workspace_id AS "workspaceId", provider,
            count(*) OVER (PARTITION BY workspace_id, provider)::int AS pending,
            COALESCE(replayed_at, received_at) AS "oldestQueuedAt", id AS "oldestEventId"
     FROM events WHERE status = 'received' AND next_attempt_at <= $1
     ORDER BY workspace_id, provider, COALESCE(replayed_at, received_at), id`,
    [now],
  );
  return rows;
}
