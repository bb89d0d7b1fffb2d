// When customers must be checked: after a change was projected (debounced) and at the next boundary of their
// state. Both are columns of the customer row, so a crash loses no pending check.
import type { Queryable } from '../port.js';

/**
 * Asks for a check of these customers at `dueAt`. An earlier due time already set is kept, so a burst of changes
 * is checked once and never later than the first change asked for.
 */
export async function markCheckDue(db: Queryable, customerIds: readonly string[], dueAt: Date): Promise<void> {
  if (customerIds.length === 0) return;
  await db.query(
    `UPDATE customers SET check_due_at = $2
     WHERE id = ANY($1::text[]) AND (check_due_at IS NULL OR check_due_at > $2)`,
    [customerIds, dueAt],
  );
}

/**
 * Asks for a check, at `dueAt`, of every customer of the workspace with a live subscription or active access
 * (the policy they are checked against changed); an earlier due time is kept. The number of customers asked for.
 */
export async function markLiveCustomersCheckDue(db: Queryable, workspaceId: string, dueAt: Date): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE customers c SET check_due_at = $2
     WHERE c.workspace_id = $1 AND (c.check_due_at IS NULL OR c.check_due_at > $2)
       AND (EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = c.id AND NOT s.deleted
                      AND s.status IS NOT NULL AND s.status NOT IN ('canceled', 'incomplete_expired', 'ended', 'expired'))
         OR EXISTS (SELECT 1 FROM access a WHERE a.customer_id = c.id AND a.status = 'active'))`,
    [workspaceId, dueAt],
  );
  return rowCount;
}

/**
 * Puts back the check times customers had before a rebuild re-created their rows (with the same ids): pending
 * checks survive a rebuild, and the rebuild itself asks for none.
 */
export async function restoreCheckTimes(
  db: Queryable,
  rows: readonly { id: string; checkDueAt: Date | null; nextCheckAt: Date | null }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE customers c SET check_due_at = v.due, next_check_at = v.next
     FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS v (id, due, next)
     WHERE c.id = v.id`,
    [rows.map((r) => r.id), rows.map((r) => r.checkDueAt), rows.map((r) => r.nextCheckAt)],
  );
}
