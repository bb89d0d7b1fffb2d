// Who is calling: the admin (SLUICE_ADMIN_TOKEN, the generated admin token, or the local CLI token of this
// run) or a workspace API key. A workspace key asking about another workspace gets the same 404 as for a
// workspace that does not exist, so keys cannot probe for ids.
import { findApiKeyByHash, touchApiKey, type ApiKeyRole } from '../../db/queries/api-keys.js';

export type { ApiKeyRole };
import { getSetting } from '../../db/queries/settings.js';
import { UnauthorizedError, WorkspaceNotFoundError, ForbiddenError } from '../../errors.js';
import { constantTimeEqual, hashToken } from '../../lib/hash.js';
import type { Ctx } from '../context.js';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'workspace'; workspaceId: string; keyId: string; role: ApiKeyRole }
  /** A person signed in to the console; `workspaces` null: every workspace. */
  | { kind: 'user'; userId: string; email: string; role: ApiKeyRole; workspaces: string[] | null };

export const ADMIN_TOKEN_HASH_SETTING = 'admin_token_hash';

export interface AdminTokenHashes {
  /** Hashes accepted as admin: the configured or stored admin token, and this run's CLI token. */
  hashes: string[];
}

export async function authenticate(ctx: Ctx, admin: AdminTokenHashes, authorization: string | undefined): Promise<Principal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) throw new UnauthorizedError('send Authorization: Bearer <admin token or workspace API key>');
  const hash = hashToken(match[1]!);
  if (admin.hashes.some((h) => constantTimeEqual(h, hash))) return { kind: 'admin' };
  // Looked up by hash: the index finds the row, and the hash of a 256-bit token is not guessable.
  const key = await findApiKeyByHash(ctx.db, hash);
  if (key) {
    await touchApiKey(ctx.db, key.id);
    return { kind: 'workspace', workspaceId: key.workspaceId, keyId: key.id, role: key.role };
  }
  throw new UnauthorizedError('the bearer token is not valid');
}

/** Whether the principal may open the workspace at all (whatever its role). */
export function mayOpenWorkspace(principal: Principal, workspaceId: string): boolean {
  if (principal.kind === 'workspace') return principal.workspaceId === workspaceId;
  if (principal.kind === 'user') return principal.workspaces === null || principal.workspaces.includes(workspaceId);
  return true;
}

export function assertWorkspaceAccess(principal: Principal, workspaceId: string): void {
  if (!mayOpenWorkspace(principal, workspaceId)) throw new WorkspaceNotFoundError(workspaceId);
}

/** The principal's role in a workspace it may open: the admin token is admin everywhere. */
export function roleOf(principal: Principal): ApiKeyRole {
  return principal.kind === 'admin' ? 'admin' : principal.role;
}

/** The admin token, or a workspace key with the `admin` role (its workspace is checked by the auth hook). */
export function assertWorkspaceAdmin(principal: Principal, what: string): void {
  if (principal.kind === 'workspace' && principal.role !== 'admin')
    throw new ForbiddenError(`${what} needs an admin key or the admin token (this key's role is ${principal.role})`);
  if (principal.kind === 'user' && principal.role !== 'admin')
    throw new ForbiddenError(`${what} needs the admin role (your role is ${principal.role})`);
}

/** Viewer keys read and never change anything, so a leaked read-only key cannot save secrets or create keys.
 *  Member keys operate (replay, retry, test, recover, publish custom events, REST Hooks); routes that change
 *  credentials, endpoints, keys or workspace settings need an admin key (route config `adminOnly`). */
export function assertMayWrite(principal: Principal, method: string): void {
  if (principal.kind !== 'admin' && principal.role === 'viewer' && !['GET', 'HEAD', 'OPTIONS'].includes(method)) {
    throw new ForbiddenError(
      principal.kind === 'user'
        ? 'the viewer role can only read; ask an admin for the member or admin role'
        : 'a viewer key can only read (GET); use a member or admin key to change anything',
    );
  }
}

/** Who asked, as recorded in audit rows: 'admin' or the API key's id, never the token itself. */
export function principalRef(principal: Principal): string {
  if (principal.kind === 'user') return `user:${principal.userId}`;
  return principal.kind === 'admin' ? 'admin' : principal.keyId;
}

/** Instance-wide actions (workspaces, users, retention): the admin token, or a user who is admin of every workspace. */
export function isInstanceAdmin(principal: Principal): boolean {
  return principal.kind === 'admin' || (principal.kind === 'user' && principal.role === 'admin' && principal.workspaces === null);
}

export function assertAdmin(principal: Principal, what: string): void {
  if (!isInstanceAdmin(principal)) throw new ForbiddenError(`${what} needs the admin token or an admin of every workspace`);
}

/** The stored hash of the generated admin token, if one was generated. */
export async function storedAdminTokenHash(ctx: Ctx): Promise<string | undefined> {
  return getSetting(ctx.db, ADMIN_TOKEN_HASH_SETTING);
}
