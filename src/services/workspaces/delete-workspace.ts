import { deleteWorkspaceCascade } from '../../db/queries/workspaces.js';
import { AppError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { changeInboundSettings } from '../ingest/inbound-runtime.js';

/**
 * Erases a workspace and everything stored for it (events, CRM, messages, deliveries, endpoints, keys…) in
 * one transaction. Irreversible, so the caller must repeat the workspace id as `confirm`: a script with a
 * wrong variable, or a stray DELETE, cannot wipe a workspace by accident.
 */
export async function deleteWorkspace(
  ctx: Ctx,
  workspaceId: string,
  confirm: unknown,
): Promise<{ id: string; deleted: true; erased: Record<string, number> }> {
  if (confirm !== workspaceId) {
    throw new AppError(
      'CONFIRMATION_REQUIRED',
      `deleting a workspace erases all its data; repeat its id to confirm: DELETE /api/v1/workspaces/${workspaceId}?confirm=${workspaceId}`,
      400,
    );
  }
  const erased = await changeInboundSettings(ctx, workspaceId, (tx) => deleteWorkspaceCascade(tx, workspaceId));
  if (!erased) throw new WorkspaceNotFoundError(workspaceId);
  ctx.log.warn({ workspaceId, erased }, 'workspace deleted with all its data');
  return { id: workspaceId, deleted: true, erased };
}
