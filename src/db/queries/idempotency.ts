// The store behind Idempotency-Key: one row per (credential, key), claimed by the first request and then
// holding its answer until it expires.
import type { Queryable } from '../port.js';

export interface IdempotencyRow {
  requestHash: string;
  responseStatus: number | null;
  responseSealed: string | null;
}

/**
 * Claims the key for this request. A row that expired, or a claim abandoned by a process that died (its lock
 * ran out before an answer was stored) for the same request, is taken over. Returns undefined when claimed,
 * else the row that holds the key. Two concurrent claims serialize on the primary key: one wins.
 */
export async function claimIdempotencyKey(
  db: Queryable,
  c: { scope: string; key: string; requestHash: string; workspaceId: string | null; lockSeconds: number; ttlSeconds: number },
): Promise<IdempotencyRow | undefined> {
  const { rows } = await db.query(
    `INSERT INTO idempotency_keys AS k (scope, key, request_hash, workspace_id, locked_until, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), now() + make_interval(secs => $6))
     ON CONFLICT (scope, key) DO UPDATE
       SET request_hash = EXCLUDED.request_hash, workspace_id = EXCLUDED.workspace_id, locked_until = EXCLUDED.locked_until,
           expires_at = EXCLUDED.expires_at, response_status = NULL, response_sealed = NULL, created_at = now()
       WHERE k.expires_at < now()
          OR (k.response_status IS NULL AND k.locked_until < now() AND k.request_hash = EXCLUDED.request_hash)
     RETURNING 1 AS claimed`,
    [c.scope, c.key, c.requestHash, c.workspaceId, c.lockSeconds, c.ttlSeconds],
  );
  if (rows.length > 0) return undefined;
  const found = await db.query<IdempotencyRow>(
    `SELECT request_hash AS "requestHash", response_status AS "responseStatus", response_sealed AS "responseSealed"
     FROM idempotency_keys WHERE scope = $1 AND key = $2`,
    [c.scope, c.key],
  );
  // Gone between the two statements (an error answer released it): report it as in use; a retry claims it.
  return found.rows[0] ?? { requestHash: c.requestHash, responseStatus: null, responseSealed: null };
}

export async function storeIdempotentAnswer(db: Queryable, scope: string, key: string, status: number, sealed: string): Promise<void> {
  await db.query(
    'UPDATE idempotency_keys SET response_status = $3, response_sealed = $4, locked_until = NULL WHERE scope = $1 AND key = $2',
    [scope, key, status, sealed],
  );
}

/** An error answer is not kept: the client may fix the request and retry with the same key. */
export async function releaseIdempotencyKey(db: Queryable, scope: string, key: string): Promise<void> {
  await db.query('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND response_status IS NULL', [scope, key]);
}

export async function purgeExpiredIdempotencyKeys(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM idempotency_keys WHERE expires_at < now()');
  return rowCount;
}
