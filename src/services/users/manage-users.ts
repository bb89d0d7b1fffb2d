import {
  allWorkspaceIds,
  deleteUser as removeUser,
  deleteUserSessions,
  findUser,
  listUsers as queryUsers,
  setUserWorkspaces,
} from '../../db/queries/users.js';
import { NotFoundError } from '../../errors.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { toUserView, type UserView } from './user-view.js';

export async function listUsers(ctx: Ctx): Promise<UserView[]> {
  return (await queryUsers(ctx.db)).map(toUserView);
}

/** Deletes the user and ends their sessions at once (the sessions go with the row). */
export async function deleteUser(ctx: Ctx, actor: Actor, id: string): Promise<void> {
  const user = await findUser(ctx.db, id);
  if (!user) throw new NotFoundError('USER_NOT_FOUND', `no user ${JSON.stringify(id)}`);
  await deleteUserSessions(ctx.db, id);
  await removeUser(ctx.db, id);
  await recordAudit(ctx, actor, null, 'user.deleted', id, { email: user.email });
}

/**
 * Takes one workspace away from a user, keeping the account and the others: a user of every workspace keeps
 * every other one (the list becomes explicit). Takes effect on their next request (roles and workspaces are read
 * with the session). A user left with no workspace can still sign in, and sees none.
 */
export async function removeFromWorkspace(ctx: Ctx, actor: Actor, workspaceId: string, id: string): Promise<void> {
  const user = await findUser(ctx.db, id);
  if (!user || (user.workspaces !== null && !user.workspaces.includes(workspaceId)))
    throw new NotFoundError('USER_NOT_FOUND', 'no such member in this workspace');
  const from = user.workspaces ?? (await allWorkspaceIds(ctx.db));
  await setUserWorkspaces(
    ctx.db,
    id,
    from.filter((w) => w !== workspaceId),
  );
  await recordAudit(ctx, actor, workspaceId, 'member.removed', id, { email: user.email });
}
