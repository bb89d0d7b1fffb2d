// One-time values of the console between a form's POST and the GET it redirects to (migration 0039).
import type { Queryable } from '../port.js';

export async function insertReveal(
  db: Queryable,
  reveal: { idHash: string; sessionHash: string; kind: string; scope: string; sealed: string; expiresAt: Date },
): Promise<void> {
  await db.query('INSERT INTO console_reveals (id_hash, session_hash, kind, scope, sealed, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
    reveal.idHash,
    reveal.sessionHash,
    reveal.kind,
    reveal.scope,
    reveal.sealed,
    reveal.expiresAt,
  ]);
}

/** Deletes the value and answers it (sealed) if it is this session's, of this kind and page, and not expired at `now`:
 *  of two requests at once, one gets it. A value of another session is left alone. */
export async function takeReveal(
  db: Queryable,
  key: { idHash: string; sessionHash: string; kind: string; scope: string; now: Date },
): Promise<string | undefined> {
  const { rows } = await db.query<{ sealed: string; live: boolean }>(
    `DELETE FROM console_reveals WHERE id_hash = $1 AND session_hash = $2 AND kind = $3 AND scope = $4
     RETURNING sealed, expires_at > $5::timestamptz AS live`,
    [key.idHash, key.sessionHash, key.kind, key.scope, key.now],
  );
  return rows[0]?.live ? rows[0].sealed : undefined;
}

/** Deletes every value not taken in time. */
export async function deleteExpiredReveals(db: Queryable, now: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM console_reveals WHERE expires_at <= $1', [now]);
  return rowCount ?? 0;
}
