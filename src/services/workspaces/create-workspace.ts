import { insertWorkspace } from '../../db/queries/workspaces.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { asObject, optionalBoolean, requiredName } from '../input.js';
import { toWorkspaceView, type WorkspaceView } from './workspace-view.js';

export async function createWorkspace(ctx: Ctx, input: unknown): Promise<WorkspaceView> {
  const body = asObject(input);
  const name = requiredName(body, 'name', 120);
  const demo = optionalBoolean(body, 'demo') ?? false;
  const ws = await insertWorkspace(ctx.db, { id: newId('ws', ctx.now()), name, demo });
  ctx.log.info({ workspaceId: ws.id }, 'workspace created');
  return toWorkspaceView(ctx, ws);
}
