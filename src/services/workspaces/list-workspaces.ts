import { WorkspaceNotFoundError } from '../../errors.js';
import { findWorkspace, listWorkspaces as queryWorkspaces } from '../../db/queries/workspaces.js';
import type { Ctx } from '../context.js';
import { page, parseCursor, parseLimit } from '../input.js';
import type { Principal } from './authenticate.js';
import { toWorkspaceView, type WorkspaceView } from './workspace-view.js';

export async function listWorkspaces(
  ctx: Ctx,
  principal: Principal,
  query: { limit?: unknown; cursor?: unknown },
): Promise<{ data: WorkspaceView[]; nextCursor: string | null }> {
  const limit = parseLimit(query.limit);
  const rows = await queryWorkspaces(ctx.db, {
    limit: limit + 1,
    before: parseCursor(query.cursor),
    // A workspace key sees its own workspace only; a user the workspaces given to them.
    onlyIds:
      principal.kind === 'workspace'
        ? [principal.workspaceId]
        : principal.kind === 'user' && principal.workspaces !== null
          ? principal.workspaces
          : undefined,
  });
  const p = page(rows, limit);
  return { data: p.data.map((ws) => toWorkspaceView(ctx, ws)), nextCursor: p.nextCursor };
}

export async function getWorkspace(ctx: Ctx, workspaceId: string): Promise<WorkspaceView> {
  const ws = await findWorkspace(ctx.db, workspaceId);
  if (!ws) throw new WorkspaceNotFoundError(workspaceId);
  return toWorkspaceView(ctx, ws);
}
