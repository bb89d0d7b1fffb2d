// Access reported by the team's own application: rows of the access table with provider 'app', provider_id
// `<customerId>:<key>` and resource = the key. No provider event writes them, so they are not version-guarded;
// instead every writer takes the workspace's app-access lock, and source_rank counts the row's changes (the
// dedupe key of each access.* message is the row id and that count: one message per fact, however often asked).
import type { Queryable } from '../port.js';

export interface AppAccessRow {
  id: string;
  customerId: string | null;
  providerId: string;
  key: string;
  status: string;
  grantedAt: Date | null;
  revokedAt: Date | null;
  expiresAt: Date | null;
  /** How many times the row changed (0 when inserted). */
  version: number;
}

interface DbRow {
  id: string;
  customer_id: string | null;
  provider_id: string;
  resource: string;
  status: string;
  granted_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date | null;
  source_rank: number;
}

const toRow = (r: DbRow): AppAccessRow => ({
  id: r.id,
  customerId: r.customer_id,
  providerId: r.provider_id,
  key: r.resource,
  status: r.status,
  grantedAt: r.granted_at,
  revokedAt: r.revoked_at,
  expiresAt: r.expires_at,
  version: Number(r.source_rank),
});

// First key of the two-key advisory lock space for app-access writes (any constant unique to this use).
const APP_ACCESS_LOCK_CLASS = 0x5e_50_18;

/**
 * Serializes the app-access writes of one workspace until the transaction ends: two reports for the same
 * customer at once must not both see "not granted" and both publish access.granted.
 */
export async function lockAppAccess(db: Queryable, workspaceId: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [APP_ACCESS_LOCK_CLASS, workspaceId]);
}

/**
 * Customer references (a Sluice id or a provider's customer id, as GET …/customers/:id takes them) → the Sluice
 * customer id, in one statement. A Sluice id wins over a provider id that happens to be spelled the same, then a
 * real row over a stub.
 */
export async function resolveCustomerRefs(db: Queryable, workspaceId: string, refs: readonly string[]): Promise<Map<string, string>> {
  if (refs.length === 0) return new Map();
  const { rows } = await db.query<{ ref: string; id: string }>(
    `WITH r AS (SELECT DISTINCT ref FROM unnest($2::text[]) AS u(ref)),
     m AS (
       SELECT r.ref, c.id, 0 AS pref, c.stub FROM r JOIN customers c ON c.id = r.ref AND c.workspace_id = $1
       UNION ALL
       SELECT r.ref, c.id, 1 AS pref, c.stub FROM r JOIN customers c ON c.provider_id = r.ref AND c.workspace_id = $1
     )
     SELECT DISTINCT ON (ref) ref, id FROM m ORDER BY ref, pref, stub, id`,
    [workspaceId, refs],
  );
  return new Map(rows.map((r) => [r.ref, r.id]));
}

/**
 * The app-access rows of these customers, and those of these provider ids (a row whose customer row went away
 * keeps its provider id), locked; with `allActive`, every active app row of the workspace too (a complete sync
 * revokes those of the customers it does not list).
 */
export async function appAccessRows(
  db: Queryable,
  workspaceId: string,
  o: { customerIds: readonly string[]; providerIds: readonly string[]; allActive?: boolean },
): Promise<AppAccessRow[]> {
  const { rows } = await db.query<DbRow>(
    `SELECT id, customer_id, provider_id, resource, status, granted_at, revoked_at, expires_at, source_rank
     FROM access WHERE workspace_id = $1 AND provider = 'app'
       AND (customer_id = ANY($2::text[]) OR provider_id = ANY($3::text[]) OR ($4 AND status = 'active'))
     FOR UPDATE`,
    [workspaceId, o.customerIds, o.providerIds, o.allActive ?? false],
  );
  return rows.map(toRow);
}

export interface AppAccessWrite {
  id: string;
  customerId: string | null;
  providerId: string;
  key: string;
  status: 'active' | 'revoked';
  grantedAt: Date | null;
  revokedAt: Date | null;
  expiresAt: Date | null;
  version: number;
}

const CHUNK = 5000;

/** Inserts new rows and updates changed ones, a few statements per 5,000 rows. */
export async function writeAppAccess(
  db: Queryable,
  workspaceId: string,
  inserts: readonly AppAccessWrite[],
  updates: readonly AppAccessWrite[],
  at: Date,
): Promise<void> {
  for (let i = 0; i < inserts.length; i += CHUNK) {
    const part = inserts.slice(i, i + CHUNK);
    await db.query(
      `INSERT INTO access (id, workspace_id, provider, provider_id, customer_id, resource, status, granted_at, revoked_at, expires_at,
                           source_ts, source_rank, created_at, updated_at)
       SELECT u.id, $1, 'app', u.provider_id, u.customer_id, u.resource, u.status, u.granted_at, u.revoked_at, u.expires_at,
              $2, u.version, $2, $2
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                   $10::timestamptz[], $11::int[])
         AS u(id, provider_id, customer_id, resource, status, granted_at, revoked_at, expires_at, version)`,
      [workspaceId, at, ...columns(part)],
    );
  }
  for (let i = 0; i < updates.length; i += CHUNK) {
    const part = updates.slice(i, i + CHUNK);
    await db.query(
      `UPDATE access a SET customer_id = u.customer_id, status = u.status, granted_at = u.granted_at, revoked_at = u.revoked_at, expires_at = u.expires_at,
              source_rank = u.version, source_ts = $2, updated_at = $2
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                   $10::timestamptz[], $11::int[])
         AS u(id, provider_id, customer_id, resource, status, granted_at, revoked_at, expires_at, version)
       WHERE a.id = u.id AND a.workspace_id = $1 AND a.provider = 'app'`,
      [workspaceId, at, ...columns(part)],
    );
  }
}

function columns(rows: readonly AppAccessWrite[]): unknown[] {
  return [
    rows.map((r) => r.id),
    rows.map((r) => r.providerId),
    rows.map((r) => r.customerId),
    rows.map((r) => r.key),
    rows.map((r) => r.status),
    rows.map((r) => r.grantedAt),
    rows.map((r) => r.revokedAt),
    rows.map((r) => r.expiresAt),
    rows.map((r) => r.version),
  ];
}
