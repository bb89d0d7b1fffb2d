import { updateWorkspace } from '../../db/queries/workspaces.js';
import { ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { changeInboundSettings } from '../ingest/inbound-runtime.js';
import { asObject, optionalBoolean, optionalString } from '../input.js';
import { toWorkspaceView, type WorkspaceView } from './workspace-view.js';

/** PATCH: a new name and/or demo mode; the id, and so the webhook URLs, never change. */
export async function updateWorkspaceSettings(ctx: Ctx, workspaceId: string, input: unknown): Promise<WorkspaceView> {
  const body = asObject(input);
  const unknown = Object.keys(body).filter((k) => k !== 'name' && k !== 'demo');
  if (unknown.length > 0)
    throw new ValidationError(`unknown field ${unknown.join(', ')}: a workspace has name and demo`, { field: unknown[0] });
  const name = optionalString(body, 'name', 120);
  const demo = optionalBoolean(body, 'demo');
  // PostgreSQL text cannot hold NUL; refused here rather than failing in the database.
  if (name !== undefined && /\p{Cc}/u.test(name)) throw new ValidationError('name must not contain control characters', { field: 'name' });
  if (name === undefined && demo === undefined) throw new ValidationError('send name and/or demo to change');
  // The demo flag decides how inbound events are kept: other instances must hear of it.
  const ws = await changeInboundSettings(ctx, workspaceId, (tx) => updateWorkspace(tx, workspaceId, { name, demo }));
  if (!ws) throw new WorkspaceNotFoundError(workspaceId);
  ctx.log.info({ workspaceId, renamed: name !== undefined, demo }, 'workspace updated');
  return toWorkspaceView(ctx, ws);
}
