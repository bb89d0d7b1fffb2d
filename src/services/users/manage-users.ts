import { deleteUser as removeUser, deleteUserSessions, findUser, listUsers as queryUsers } from '../../db/queries/users.js';
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
