// GET …/settings/parity: what the workspace saved, or the defaults, with the sources of each access key.
import { findParityPolicy } from '../../db/queries/parity-settings.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import { storedPolicy } from '../../parity/policy.js';
import type { Ctx } from '../context.js';
import { paritySettingsView } from './parity-settings-view.js';

export async function getParitySettings(ctx: Ctx, workspaceId: string) {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const saved = await findParityPolicy(ctx.db, workspaceId);
  return paritySettingsView(storedPolicy(saved?.policy), saved?.updatedAt ?? null);
}
