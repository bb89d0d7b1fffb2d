// Console sessions: a random token in a signed, HttpOnly cookie; the database keeps only its hash, with the
// session's CSRF token and a sliding expiry. Signing lets a forged or truncated cookie be refused without a query.
import { randomBytes } from 'node:crypto';
import {
  deleteSession,
  extendSession,
  findSession,
  findUserForSignIn,
  insertSession,
  markSignedIn,
  type UserRow,
} from '../../db/queries/users.js';
import { UnauthorizedError } from '../../errors.js';
import { constantTimeEqual, hashToken } from '../../lib/hash.js';
import { decoyHash, verifyPassword } from '../../lib/password.js';
import type { Ctx } from '../context.js';
import type { Principal } from '../workspaces/authenticate.js';

/** Idle time after which a session ends (each use pushes it forward). */
export const SESSION_IDLE_MS = 12 * 3600 * 1000;
const MAC_PURPOSE = 'console-session-cookie';

export interface ConsoleSession {
  user: UserRow;
  csrfToken: string;
  tokenHash: string;
}

function cookieValue(ctx: Ctx, token: string): string {
  return `${token}.${ctx.secretBox.mac(MAC_PURPOSE, token)}`;
}

const WRONG_CREDENTIALS = 'the email or the password is not right';

/**
 * Opens a session for `userId`; with `verifiedHash` (a sign-in), only while the user's password is still the one
 * that hash stands for (see insertSession): else, or when the user is gone, an UnauthorizedError.
 */
export async function openSession(ctx: Ctx, userId: string, verifiedHash?: string): Promise<{ cookie: string; csrfToken: string }> {
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = new Date(ctx.now() + SESSION_IDLE_MS);
  const opened = await insertSession(ctx.db, { tokenHash: hashToken(token), userId, csrfToken, expiresAt, passwordHash: verifiedHash });
  if (!opened) throw new UnauthorizedError(WRONG_CREDENTIALS);
  await markSignedIn(ctx.db, userId);
  return { cookie: cookieValue(ctx, token), csrfToken };
}

/**
 * Checks email and password; an unknown email costs the same time as a wrong password. The password is checked
 * outside any transaction (it takes tens of milliseconds); the session opens only if it is still the user's.
 * `afterCheck` is a test seam, never passed in production: it runs in that window, after the password was checked
 * and before the session is written, so a test can commit a password change exactly there.
 */
export async function signIn(
  ctx: Ctx,
  email: string,
  password: string,
  afterCheck?: () => Promise<void>,
): Promise<{ cookie: string; user: UserRow }> {
  const user = email.length <= 254 ? await findUserForSignIn(ctx.db, email.trim()) : undefined;
  const ok = await verifyPassword(password.slice(0, 200), user?.passwordHash ?? (await decoyHash()));
  if (!user || !user.passwordHash || !ok) throw new UnauthorizedError(WRONG_CREDENTIALS);
  await afterCheck?.();
  const { cookie } = await openSession(ctx, user.id, user.passwordHash);
  return { cookie, user };
}

function tokenOf(ctx: Ctx, cookie: string | undefined): string | undefined {
  if (!cookie || cookie.length > 200) return undefined;
  const dot = cookie.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const token = cookie.slice(0, dot);
  return constantTimeEqual(cookie.slice(dot + 1), ctx.secretBox.mac(MAC_PURPOSE, token)) ? token : undefined;
}

/** The session of a cookie value, or undefined (forged, expired, signed out, user deleted). */
export async function resolveSession(ctx: Ctx, cookie: string | undefined): Promise<ConsoleSession | undefined> {
  const token = tokenOf(ctx, cookie);
  if (!token) return undefined;
  const tokenHash = hashToken(token);
  const found = await findSession(ctx.db, tokenHash);
  if (!found) return undefined;
  await extendSession(ctx.db, tokenHash, new Date(ctx.now() + SESSION_IDLE_MS));
  return { user: found.user, csrfToken: found.csrfToken, tokenHash };
}

export async function signOut(ctx: Ctx, cookie: string | undefined): Promise<void> {
  const token = tokenOf(ctx, cookie);
  if (token) await deleteSession(ctx.db, hashToken(token));
}

/** The principal a signed-in person acts as, for the same checks the API makes of keys. */
export function userPrincipal(user: UserRow): Principal {
  return { kind: 'user', userId: user.id, email: user.email, role: user.role, workspaces: user.workspaces };
}
