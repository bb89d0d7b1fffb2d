// The one-time links at work: the setup link creates the first admin; a set-password link sets a new user's
// password. Either signs the person in. The link is spent in the same transaction as what it does.
import { countUsers, findLink, insertUser, setUserPassword, useLink, type LinkPurpose } from '../../db/queries/users.js';
import { AppError } from '../../errors.js';
import { hashToken } from '../../lib/hash.js';
import { newId } from '../../lib/ids.js';
import { hashPassword } from '../../lib/password.js';
import { recordAudit } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { checkEmail, checkPassword, failIfProblems, type FieldProblem } from './user-input.js';

export class LinkUnusableError extends AppError {
  /** nobodyYet: no user exists, so there is no admin to ask; the way out is the setup link of a new start. */
  constructor(nobodyYet = false) {
    super(
      'LINK_UNUSABLE',
      nobodyYet
        ? 'this link was already used, has expired, was replaced by a newer one, or is not one Sluice made; ' +
            'nobody can sign in yet, so restart Sluice: each start prints a new setup link on stderr while no user ' +
            'exists (only the newest one works)'
        : 'this link was already used, has expired, or is not one Sluice made; ask an admin for a new one ' +
            '(if no admin can sign in, whoever runs the server can make one: npx sluice user create --email … --role admin)',
      410,
    );
  }
}

async function unusable(ctx: Ctx): Promise<LinkUnusableError> {
  return new LinkUnusableError((await countUsers(ctx.db)) === 0);
}

/** What the page shows before the form is sent: which kind of link, and for whom. */
export async function inspectLink(ctx: Ctx, token: string): Promise<{ purpose: LinkPurpose; email: string | null }> {
  const link = token.length <= 200 ? await findLink(ctx.db, hashToken(token)) : undefined;
  if (!link) throw await unusable(ctx);
  return { purpose: link.purpose, email: link.email };
}

export async function redeemLink(
  ctx: Ctx,
  token: string,
  input: { email?: unknown; password?: unknown; confirm?: unknown },
): Promise<string> {
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
    if (fresh.purpose === 'set_password') {
      await setUserPassword(tx, fresh.userId!, passwordHash);
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
  // Counted after the transaction: the link spent meanwhile may have been the setup link that made the first user.
  if (userId === undefined) throw await unusable(ctx);
  return userId;
}
