import { existingWorkspaceIds } from '../../db/queries/workspaces.js';
import { insertUser, lockUserCreation } from '../../db/queries/users.js';
import { AppError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { hashPassword } from '../../lib/password.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { createOneTimeLink } from './one-time-link.js';
import { checkEmail, checkPassword, checkRole, failIfProblems, type FieldProblem } from './user-input.js';
import { toUserView, type UserView } from './user-view.js';

/** A user; without a password, with a one-time link (shown once) to set it. */
export async function createUser(ctx: Ctx, actor: Actor, input: unknown): Promise<{ user: UserView; setPasswordUrl?: string }> {
  const body = asObject(input);
  const problems: FieldProblem[] = [];
  const email = checkEmail(body.email, problems);
  const role = checkRole(body.role, problems);
  const password =
    body.password === undefined || body.password === null || body.password === '' ? undefined : checkPassword(body.password, problems);
  let workspaces: string[] | null = null;
  if (body.workspaces !== undefined && body.workspaces !== null) {
    if (!Array.isArray(body.workspaces) || body.workspaces.some((w) => typeof w !== 'string' || !/^ws_[0-9a-z]{24}$/.test(w))) {
      problems.push({ field: 'workspaces', message: 'must be a list of workspace ids (ws_…), or omitted for every workspace' });
    } else workspaces = [...new Set(body.workspaces as string[])];
  }
  if (workspaces && workspaces.length > 0) {
    const existing = await existingWorkspaceIds(ctx.db, workspaces);
    const missing = workspaces.filter((w) => !existing.has(w));
    if (missing.length > 0) problems.push({ field: 'workspaces', message: `no such workspace: ${missing.join(', ')}` });
  }
  failIfProblems(problems);
  const passwordHash = password === undefined ? null : await hashPassword(password);
  // Under the user-creation lock: a setup link used at the same moment sees this user, or this waits for its admin.
  const user = await ctx.db.transaction(async (tx) => {
    await lockUserCreation(tx);
    return insertUser(tx, { id: newId('usr', ctx.now()), email, role, workspaces, passwordHash });
  });
  if (!user) throw new AppError('USER_EXISTS', `a user with the email ${email} exists`, 409, false, { field: 'email' });
  await recordAudit(ctx, actor, null, 'user.created', user.id, { email, role, workspaces });
  const setPasswordUrl = password === undefined ? await createOneTimeLink(ctx, 'set_password', user.id) : undefined;
  return { user: toUserView(user), ...(setPasswordUrl ? { setPasswordUrl } : {}) };
}
