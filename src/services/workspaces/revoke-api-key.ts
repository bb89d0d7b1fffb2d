import { deleteApiKey } from '../../db/queries/api-keys.js';
import { NotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';

/** Takes effect on the next request: every request looks its key up, nothing is cached. */
export async function revokeApiKey(ctx: Ctx, workspaceId: string, keyId: string, actor: Actor): Promise<void> {
  if (!(await deleteApiKey(ctx.db, workspaceId, keyId))) {
    throw new NotFoundError('API_KEY_NOT_FOUND', `no API key ${JSON.stringify(keyId)} in this workspace`);
  }
  ctx.log.info({ workspaceId, keyId }, 'API key revoked');
  await recordAudit(ctx, actor, workspaceId, 'api_key.revoked', keyId);
}
