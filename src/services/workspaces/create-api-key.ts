import { insertApiKey } from '../../db/queries/api-keys.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import { hashToken } from '../../lib/hash.js';
import { newId, newToken } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { asObject, oneOf, optionalName } from '../input.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import { API_KEY_ROLES, toApiKeyView, type ApiKeyView } from './api-key-view.js';

/** A workspace-scoped API key; the key itself is returned once and only its hash is kept. */
export async function createApiKey(ctx: Ctx, workspaceId: string, input: unknown, actor: Actor): Promise<ApiKeyView & { key: string }> {
  const body = asObject(input);
  const name = optionalName(body, 'name', 120) ?? null;
  const role = oneOf(body.role ?? undefined, 'role', API_KEY_ROLES) ?? 'admin';
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const key = newToken('sk_ws');
  const row = await insertApiKey(ctx.db, {
    id: newId('key', ctx.now()),
    workspaceId,
    keyHash: hashToken(key),
    keyPrefix: key.slice(0, 12),
    name,
    role,
  });
  await recordAudit(ctx, actor, workspaceId, 'api_key.created', row.id, { name, role });
  return { ...toApiKeyView(row), key };
}
