import type { Queryable } from '../port.js';

export type UserRole = 'admin' | 'member' | 'viewer';

export interface UserRow {
  id: string;
  email: string;
  role: UserRole;
  /** The workspaces the user may open; null: every workspace. */
  workspaces: string[] | null;
  hasPassword: boolean;
  createdAt: Date;
  lastSignInAt: Date | null;
}

const COLUMNS = `id, email, role, workspaces, password_hash IS NOT NULL AS "hasPassword", created_at AS "createdAt",
  last_sign_in_at AS "lastSignInAt"`;

export async function insertUser(
  db: Queryable,
  user: { id: string; email: string; role: UserRole; workspaces: string[] | null; passwordHash: string | null },
): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (id, email, role, workspaces, password_hash) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (lower(email)) DO NOTHING RETURNING ${COLUMNS}`,
    [user.id, user.email, user.role, user.workspaces, user.passwordHash],
  );
  return rows[0];
}

// Advisory lock taken by every transaction that creates a user (any constant unique to this use): the setup link's
// "no user yet" check and its insert hold while the lock is held, so a user made at the same time (the API, `sluice
// user create`) either commits before the check, which then sees it, or waits until the setup link's admin is in.
const USER_CREATION_LOCK = 7_215_804_120;

/** Makes user creations take turns until the calling transaction ends (call it inside a transaction). */
export async function lockUserCreation(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [USER_CREATION_LOCK]);
}

export async function countUsers(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
  return rows[0]!.n;
}

export async function listUsers(db: Queryable): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY lower(email)`);
  return rows;
}

export async function findUser(db: Queryable, id: string): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0];
}

export async function findUserForSignIn(db: Queryable, email: string): Promise<(UserRow & { passwordHash: string | null }) | undefined> {
  const { rows } = await db.query<UserRow & { passwordHash: string | null }>(
    `SELECT ${COLUMNS}, password_hash AS "passwordHash" FROM users WHERE lower(email) = lower($1)`,
    [email],
  );
  return rows[0];
}

export async function setUserPassword(db: Queryable, id: string, passwordHash: string): Promise<void> {
  await db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [id, passwordHash]);
}

export async function markSignedIn(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE users SET last_sign_in_at = now() WHERE id = $1', [id]);
}

export async function deleteUser(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM users WHERE id = $1', [id]);
  return rowCount === 1;
}

// Sessions

export interface SessionRow {
  userId: string;
  csrfToken: string;
  expiresAt: Date;
}

/**
 * Opens a session for a user who still exists and, given `passwordHash`, whose password is still the one that hash
 * verified; answers whether it did. A password set meanwhile ends every session of the user in its transaction
 * (use-link.ts), so a sign-in that checked the old password must not open one after that: the user's row is read
 * FOR SHARE, which waits for a password change under way and then sees the new hash; a change that comes after
 * waits for this insert and ends its session with the others.
 */
export async function insertSession(
  db: Queryable,
  s: { tokenHash: string; userId: string; csrfToken: string; expiresAt: Date; passwordHash?: string },
): Promise<boolean> {
  const values = [s.tokenHash, s.userId, s.csrfToken, s.expiresAt];
  const { rowCount } = await db.query(
    `INSERT INTO user_sessions (token_hash, user_id, csrf_token, expires_at)
     SELECT $1, u.id, $3, $4 FROM users u WHERE u.id = $2 ${s.passwordHash !== undefined ? 'AND u.password_hash = $5' : ''} FOR SHARE`,
    s.passwordHash !== undefined ? [...values, s.passwordHash] : values,
  );
  return rowCount === 1;
}

/** The live session of a token hash with its user, or undefined (unknown, expired, user deleted). */
export async function findSession(db: Queryable, tokenHash: string): Promise<(SessionRow & { user: UserRow }) | undefined> {
  const { rows } = await db.query<SessionRow & { user: UserRow }>(
    `SELECT s.user_id AS "userId", s.csrf_token AS "csrfToken", s.expires_at AS "expiresAt",
       json_build_object('id', u.id, 'email', u.email, 'role', u.role, 'workspaces', u.workspaces,
         'hasPassword', true, 'createdAt', u.created_at, 'lastSignInAt', u.last_sign_in_at) AS "user"
     FROM user_sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.expires_at > now()`,
    [tokenHash],
  );
  return rows[0];
}

/** Slides the expiry forward, at most one write a minute per session. */
export async function extendSession(db: Queryable, tokenHash: string, expiresAt: Date): Promise<void> {
  await db.query(`UPDATE user_sessions SET expires_at = $2 WHERE token_hash = $1 AND expires_at < $2::timestamptz - interval '1 minute'`, [
    tokenHash,
    expiresAt,
  ]);
}

export async function deleteSession(db: Queryable, tokenHash: string): Promise<void> {
  await db.query('DELETE FROM user_sessions WHERE token_hash = $1', [tokenHash]);
}

export async function deleteUserSessions(db: Queryable, userId: string): Promise<void> {
  await db.query('DELETE FROM user_sessions WHERE user_id = $1', [userId]);
}

export async function deleteExpiredSessions(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM user_sessions WHERE expires_at < now()');
  return rowCount ?? 0;
}

// One-time links

export type LinkPurpose = 'setup' | 'set_password';

export async function insertLink(
  db: Queryable,
  link: { tokenHash: string; userId: string | null; purpose: LinkPurpose; expiresAt: Date },
): Promise<void> {
  await db.query('INSERT INTO user_links (token_hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)', [
    link.tokenHash,
    link.userId,
    link.purpose,
    link.expiresAt,
  ]);
}

/** The unused, unexpired link of a token hash. */
export async function findLink(
  db: Queryable,
  tokenHash: string,
): Promise<{ userId: string | null; purpose: LinkPurpose; email: string | null } | undefined> {
  const { rows } = await db.query<{ userId: string | null; purpose: LinkPurpose; email: string | null }>(
    `SELECT l.user_id AS "userId", l.purpose, u.email FROM user_links l LEFT JOIN users u ON u.id = l.user_id
     WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now()`,
    [tokenHash],
  );
  return rows[0];
}

/** Marks the link used; false when another request used it first (a link works once). */
export async function useLink(db: Queryable, tokenHash: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE user_links SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()',
    [tokenHash],
  );
  return rowCount === 1;
}

/** Ends the setup links not yet used (a new one replaces them at each start while no user exists). */
export async function expireSetupLinks(db: Queryable): Promise<void> {
  await db.query("UPDATE user_links SET expires_at = now() WHERE purpose = 'setup' AND used_at IS NULL AND expires_at > now()");
}

/** Links used or expired more than a week ago (kept a while so "already used" can still be told apart). */
export async function deleteEndedLinks(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    "DELETE FROM user_links WHERE coalesce(used_at, expires_at) < now() - interval '7 days' AND (used_at IS NOT NULL OR expires_at < now())",
  );
  return rowCount ?? 0;
}

export async function setUserWorkspaces(db: Queryable, id: string, workspaces: string[] | null): Promise<void> {
  await db.query('UPDATE users SET workspaces = $2 WHERE id = $1', [id, workspaces]);
}

/** Every workspace id (for turning "every workspace" into an explicit list). */
export async function allWorkspaceIds(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM workspaces ORDER BY id');
  return rows.map((r) => r.id);
}
