import { listApiKeys as queryApiKeys } from '../../db/queries/api-keys.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { page, parseCursor, parseLimit } from '../input.js';
import { toApiKeyView, type ApiKeyView } from './api-key-view.js';

export async function listApiKeys(
  ctx: Ctx,
  workspaceId: string,
  query: { limit?: unknown; cursor?: unknown },
): Promise<{ data: ApiKeyView[]; nextCursor: string | null }> {
  const limit = parseLimit(query.limit);
  const before = parseCursor(query.cursor);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const rows = await queryApiKeys(ctx.db, workspaceId, { limit: limit + 1, before });
  const p = page(rows, limit);
  return { data: p.data.map(toApiKeyView), nextCursor: p.nextCursor };
}
