// The parity policy of each workspace (jsonb, written by the settings verb after validation).
import type { Queryable } from '../port.js';

export async function findParityPolicy(db: Queryable, workspaceId: string): Promise<{ policy: unknown; updatedAt: Date } | undefined> {
  const { rows } = await db.query<{ policy: unknown; updated_at: Date }>(
    'SELECT policy, updated_at FROM parity_settings WHERE workspace_id = $1',
    [workspaceId],
  );
  return rows[0] ? { policy: rows[0].policy, updatedAt: rows[0].updated_at } : undefined;
}

export async function saveParityPolicy(db: Queryable, workspaceId: string, policy: unknown): Promise<void> {
  await db.query(
    `INSERT INTO parity_settings (workspace_id, policy) VALUES ($1, $2)
     ON CONFLICT (workspace_id) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()`,
    [workspaceId, JSON.stringify(policy)],
  );
}

/** The scan schedule of every workspace that set one (the others use the default). */
export async function scanSchedules(db: Queryable): Promise<{ workspaceId: string; policy: unknown }[]> {
  const { rows } = await db.query<{ workspace_id: string; policy: unknown }>(
    'SELECT w.id AS workspace_id, p.policy FROM workspaces w LEFT JOIN parity_settings p ON p.workspace_id = w.id ORDER BY w.id',
  );
  return rows.map((r) => ({ workspaceId: r.workspace_id, policy: r.policy }));
}

/**
 * Which of these accessMap matches name something the CRM has seen: a Stripe price or product row, a lookup key
 * on a price or a Stripe access row (an entitlement feature), a Piano resource on an access row.
 */
export async function knownAccessMatches(
  db: Queryable,
  workspaceId: string,
  m: { prices: string[]; products: string[]; lookupKeys: string[]; rids: string[] },
): Promise<{ prices: Set<string>; products: Set<string>; lookupKeys: Set<string>; rids: Set<string> }> {
  const { rows } = await db.query<{ kind: string; value: string }>(
    `SELECT 'price' AS kind, provider_id AS value FROM prices WHERE workspace_id = $1 AND provider = 'stripe' AND provider_id = ANY($2::text[])
     UNION SELECT 'product', provider_id FROM products WHERE workspace_id = $1 AND provider = 'stripe' AND provider_id = ANY($3::text[])
     UNION SELECT 'lookupKey', lookup_key FROM prices WHERE workspace_id = $1 AND lookup_key = ANY($4::text[])
     UNION SELECT 'lookupKey', resource FROM access WHERE workspace_id = $1 AND provider = 'stripe' AND resource = ANY($4::text[])
     UNION SELECT 'rid', resource FROM access WHERE workspace_id = $1 AND provider = 'piano' AND resource = ANY($5::text[])`,
    [workspaceId, m.prices, m.products, m.lookupKeys, m.rids],
  );
  const of = (kind: string) => new Set(rows.filter((r) => r.kind === kind).map((r) => r.value));
  return { prices: of('price'), products: of('product'), lookupKeys: of('lookupKey'), rids: of('rid') };
}
