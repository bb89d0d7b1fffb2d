// One person known to two providers: a Piano user and a Stripe customer with the same email are linked by a
// shared person_id (the id of the row seen first), when the workspace allows it (Piano connection setting
// mergeCustomersByEmail, on by default). The rows stay separate, one per provider object, so each provider's
// events keep their order-safety; the read API shows the person as one customer with both ids.
import type { Queryable } from '../db/port.js';
import { findConnection } from '../db/queries/connections.js';
import type { CrmRow } from '../db/queries/crm.js';

export async function linkPersonByEmail(tx: Queryable, workspaceId: string, row: CrmRow): Promise<void> {
  if (!row.email || row.person_id || row.deleted) return;
  const piano = await findConnection(tx, workspaceId, 'piano');
  if (!piano || piano.settings.mergeCustomersByEmail === false) return;
  const { rows } = await tx.query<CrmRow>(
    `SELECT * FROM customers
     WHERE workspace_id = $1 AND lower(email) = lower($2) AND provider <> $3 AND NOT deleted AND NOT stub
     ORDER BY created_at, id LIMIT 1`,
    [workspaceId, row.email, row.provider],
  );
  const other = rows[0];
  if (!other) return;
  const personId = (other.person_id as string | null) ?? other.id;
  await tx.query('UPDATE customers SET person_id = $1 WHERE id = $2 OR id = $3', [personId, row.id, other.id]);
}
