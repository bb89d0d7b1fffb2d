import { insertSettingIfAbsent } from '../../db/queries/settings.js';
import { hashToken } from '../../lib/hash.js';
import { newToken } from '../../lib/ids.js';
import { ADMIN_TOKEN_HASH_SETTING, storedAdminTokenHash } from './authenticate.js';
import type { Ctx } from '../context.js';

/**
 * The admin token's hash, generating the token on first start when SLUICE_ADMIN_TOKEN is unset.
 * `generated` carries the plain token exactly once, for the caller to print; only the hash is stored.
 */
export async function ensureAdminToken(ctx: Ctx): Promise<{ hash: string; generated?: string }> {
  if (ctx.config.adminToken) return { hash: hashToken(ctx.config.adminToken) };
  const existing = await storedAdminTokenHash(ctx);
  if (existing) return { hash: existing };
  const token = newToken('sluice_admin');
  if (await insertSettingIfAbsent(ctx.db, ADMIN_TOKEN_HASH_SETTING, hashToken(token))) {
    return { hash: hashToken(token), generated: token };
  }
  // Another instance generated one at the same moment; theirs was printed there.
  return { hash: (await storedAdminTokenHash(ctx))! };
}
