import type { Queryable } from '../port.js';

/** Deliveries of every workspace by status, and the age of the oldest pending one: the outbound queue at a glance. */
export async function deliveryQueueStats(
  db: Queryable,
): Promise<{ byStatus: { status: string; count: number }[]; oldestPendingSeconds: number }> {
  const { rows } = await db.query<{ status: string; count: number; oldest: number | null }>(
    `SELECT status, count(*)::int AS count,
            EXTRACT(EPOCH FROM (now() - min(created_at) FILTER (WHERE status = 'pending')))::float8 AS oldest
     FROM deliveries GROUP BY status`,
  );
  return {
    byStatus: rows.map((r) => ({ status: r.status, count: r.count })),
    oldestPendingSeconds: rows.find((r) => r.status === 'pending')?.oldest ?? 0,
  };
}
