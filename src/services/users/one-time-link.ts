// One-time links (first admin setup, "set your password"): a random token in the URL, only its hash stored,
// usable once, for a limited time.
import { insertLink, type LinkPurpose } from '../../db/queries/users.js';
import { hashToken } from '../../lib/hash.js';
import { newToken } from '../../lib/ids.js';
import type { Ctx } from '../context.js';

export const LINK_TTL_MS = 72 * 3600 * 1000;

export async function createOneTimeLink(ctx: Ctx, purpose: LinkPurpose, userId: string | null): Promise<string> {
  const token = newToken('sl');
  await insertLink(ctx.db, { tokenHash: hashToken(token), userId, purpose, expiresAt: new Date(ctx.now() + LINK_TTL_MS) });
  return `${ctx.publicUrl()}/${purpose === 'setup' ? 'setup' : 'set-password'}?token=${encodeURIComponent(token)}`;
}
