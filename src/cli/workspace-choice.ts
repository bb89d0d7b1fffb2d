// The workspace a command works on: the one given with --workspace, or the only one there is.
import type { WorkspaceView } from '../services/workspaces/workspace-view.js';
import { listWorkspaces } from '../services/workspaces/list-workspaces.js';
import { UsageError } from './command.js';
import type { Access } from './local.js';

export async function workspaceOf(access: Access, given: string | undefined): Promise<string> {
  if (given) return given;
  const page: { data: WorkspaceView[] } =
    access.via === 'server'
      ? await access.call('GET', '/workspaces?limit=2')
      : await listWorkspaces(access.ctx, { kind: 'admin' }, { limit: '2' });
  if (page.data.length === 1) return page.data[0]!.id;
  throw new UsageError(page.data.length === 0 ? 'there is no workspace yet' : '--workspace is required: there are several workspaces');
}
