// One person known to two providers: a Piano user and a Stripe customer with the same email are linked by a
// shared person_id (the id of the row seen first), when the workspace allows it (Piano connection setting
// mergeCustomersByEmail, on by default). The rows stay separate, one per provider object, so each provider's
// events keep their order-safety; the read API shows the person as one customer with both ids.
import type { Queryable } from '../db/port.js';
import { findConnection } from '../db/queries/connections.js';
import { findSamePersonCandidate, lockEmail, setPersonId, type CrmRow } from '../db/queries/crm.js';

export async function linkPersonByEmail(tx: Queryable, workspaceId: string, row: CrmRow): Promise<void> {
  if (!row.email || row.person_id || row.deleted) return;
  const piano = await findConnection(tx, workspaceId, 'piano');
  if (!piano || piano.settings.mergeCustomersByEmail === false) return;
  // Two workers may project the two sides at the same time, each unable to see the other's uncommitted row:
  // the second to take this lock waits for the first to commit, then sees its row and links the pair.
  await lockEmail(tx, workspaceId, row.email as string);
  const other = await findSamePersonCandidate(tx, workspaceId, row.email as string, row.provider as string);
  if (!other) return;
  const personId = (other.person_id as string | null) ?? other.id;
  await setPersonId(tx, personId, [row.id, other.id]);
}
