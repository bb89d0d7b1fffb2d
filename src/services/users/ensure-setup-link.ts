// While nobody can sign in, each start offers a one-time link to create the first admin (printed in the log:
// whoever reads the log runs the server). Older unused setup links end, so only the newest works.
import { countUsers, expireSetupLinks } from '../../db/queries/users.js';
import type { Ctx } from '../context.js';
import { createOneTimeLink } from './one-time-link.js';

export async function ensureSetupLink(ctx: Ctx): Promise<string | undefined> {
  if ((await countUsers(ctx.db)) > 0) return undefined;
  await expireSetupLinks(ctx.db);
  return createOneTimeLink(ctx, 'setup', null);
}
