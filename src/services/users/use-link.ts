// The one-time links at work: the setup link creates the first admin; a set-password link sets a user's
// password and ends every session that user had (whoever holds a session opened before may be who the new
// password is meant to keep out). Either signs the person in, in a session opened after. The link is spent in the
// same transaction as what it does.
import {
  countUsers,
  deleteUserSessions,
  findLink,
  insertUser,
  lockUserCreation,
  setUserPassword,
  useLink,
  type LinkPurpose,
} from '../../db/queries/users.js';
import { AppError, UnauthorizedError } from '../../errors.js';
import { hashToken } from '../../lib/hash.js';
import { newId } from '../../lib/ids.js';
import { hashPassword } from '../../lib/password.js';
import { recordAudit } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { openSession } from './sessions.js';
import { checkEmail, checkPassword, failIfProblems, type FieldProblem } from './user-input.js';

/**
 * One answer for every link that cannot be used, whether or not anyone can sign in yet: anybody may try a link, and
 * telling an unclaimed instance (no user) from a claimed one would point strangers at the servers still to claim.
 * So it names both ways out.
 */
export class LinkUnusableError extends AppError {
  constructor() {
    super(
      'LINK_UNUSABLE',
      // Sentences, capital first: the console shows this as the whole page (console/routes.tsx).
      'This link can no longer be used: it was already used, has expired, was replaced by a newer one, or is not ' +
        'one Sluice made. If you set your password with it, sign in with that password. Ask an admin for a new one. ' +
        'If nobody can sign in yet, restart Sluice: while no user exists, each start prints a new setup link on ' +
        'stderr (only the newest one works). Whoever runs the server can also make an admin: ' +
        'npx sluice user create --email … --role admin.',
      410,
    );
  }
}

/** What the page shows before the form is sent: which kind of link, and for whom. */
export async function inspectLink(ctx: Ctx, token: string): Promise<{ purpose: LinkPurpose; email: string | null }> {
  const link = token.length <= 200 ? await findLink(ctx.db, hashToken(token)) : undefined;
  if (!link) throw new LinkUnusableError();
  // A setup link creates the first admin only: made while nobody existed, it is still in the start's log after a
  // user was made another way (the API, `sluice user create`), and must not make a second admin from there.
  if (link.purpose === 'setup' && (await countUsers(ctx.db)) > 0) throw new LinkUnusableError();
  return { purpose: link.purpose, email: link.email };
}

export async function redeemLink(
  ctx: Ctx,
  token: string,
  input: { email?: unknown; password?: unknown; confirm?: unknown },
): Promise<{ userId: string; passwordHash: string }> {
  const link = await inspectLink(ctx, token);
  const problems: FieldProblem[] = [];
  const email = link.purpose === 'setup' ? checkEmail(input.email, problems) : '';
  const password = checkPassword(input.password, problems);
  if (input.confirm !== undefined && input.confirm !== input.password)
    problems.push({ field: 'confirm', message: 'the two passwords differ' });
  failIfProblems(problems);
  const passwordHash = await hashPassword(password);
  const tokenHash = hashToken(token);
  const userId = await ctx.db.transaction(async (tx) => {
    const fresh = await findLink(tx, tokenHash);
    if (!fresh || !(await useLink(tx, tokenHash))) return undefined;
    if (fresh.purpose === 'setup') {
      // The check and the insert below under the user-creation lock: a user made meanwhile (`sluice user create`,
      // the API, another setup link) is seen here, never a second "first" admin beside it.
      await lockUserCreation(tx);
      if ((await countUsers(tx)) > 0) return undefined;
    }
    if (fresh.purpose === 'set_password') {
      // Every session of the user ends with the old password: the caller opens the only one left after this. The
      // password first, then the sessions, by user: from the write on, a sign-in that checked the old password waits
      // for this transaction and is refused (insertSession), and the delete, a later statement, sees every session
      // committed before that write. The other order would miss a session written between the two.
      await setUserPassword(tx, fresh.userId!, passwordHash);
      await deleteUserSessions(tx, fresh.userId!);
      return fresh.userId!;
    }
    const id = newId('usr', ctx.now());
    const user = await insertUser(tx, { id, email, role: 'admin', workspaces: null, passwordHash });
    if (!user) throw new AppError('USER_EXISTS', `a user with the email ${email} exists`, 409, false, { field: 'email' });
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, { kind: 'cli' }, null, 'user.created', id, {
      email,
      role: 'admin',
      via: 'setup link',
    });
    return id;
  });
  if (userId === undefined) throw new LinkUnusableError();
  return { userId, passwordHash };
}

/**
 * Redeems the link, then signs its user in with the password just set. The session opens only while that password
 * is still the user's: another link redeemed in between (which ended every session) or the user deleted leaves the
 * new password set and no session (`cookie: null`), rather than a session the newer change was meant to end, or a
 * 401 about a wrong password on the link's own page. `afterRedeem` is a test seam, never passed in production: it
 * runs between the two.
 */
export async function redeemLinkAndSignIn(
  ctx: Ctx,
  token: string,
  input: { email?: unknown; password?: unknown; confirm?: unknown },
  afterRedeem?: () => Promise<void>,
): Promise<{ userId: string; cookie: string | null }> {
  const { userId, passwordHash } = await redeemLink(ctx, token, input);
  await afterRedeem?.();
  try {
    return { userId, cookie: (await openSession(ctx, userId, passwordHash)).cookie };
  } catch (err) {
    if (err instanceof UnauthorizedError) return { userId, cookie: null };
    throw err;
  }
}
