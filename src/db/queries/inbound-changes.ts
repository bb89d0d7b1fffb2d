// Cross-instance invalidation of the inbound lookup cache (workspace, connection, opened secrets): a change is
// announced on a PostgreSQL channel inside the transaction that makes it, so every Sluice on the same database
// hears it exactly when the change becomes visible (NOTIFY is delivered at commit, and not at all on rollback).
import type { Queryable } from '../port.js';

export const INBOUND_CHANGES_CHANNEL = 'sluice_inbound_changes';

export async function announceInboundChange(tx: Queryable, workspaceId: string): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [INBOUND_CHANGES_CHANNEL, workspaceId]);
}
