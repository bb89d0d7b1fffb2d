// `sluice workspace rename|delete`: the same verbs as PATCH and DELETE /api/v1/workspaces/:ws, directly on
// the database or through the running server's API.
import { loadConfig } from '../../config.js';
import { deleteWorkspace } from '../../services/workspaces/delete-workspace.js';
import { updateWorkspaceSettings } from '../../services/workspaces/update-workspace.js';
import type { WorkspaceView } from '../../services/workspaces/workspace-view.js';
import { UsageError } from '../command.js';
import { openAccess } from '../local.js';

export async function changeWorkspace(
  sub: 'rename' | 'delete',
  positionals: string[],
  values: { name?: string | undefined; confirm?: string | undefined; json?: boolean | undefined },
): Promise<string> {
  const [id, ...extra] = positionals;
  if (!id) throw new UsageError(`give the workspace id: sluice workspace ${sub} ws_…`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (sub === 'rename' && !values.name) throw new UsageError('--name is required');
  // Checked here rather than left to the service, whose answer names the HTTP form of the confirmation.
  if (sub === 'delete' && values.confirm !== id) {
    throw new UsageError(
      `${values.confirm === undefined ? '' : `--confirm ${values.confirm} is not ${id}: `}deleting a workspace erases all its data; ` +
        `repeat its id to confirm: sluice workspace delete ${id} --confirm ${id}`,
    );
  }
  const access = await openAccess(loadConfig());
  try {
    const path = `/workspaces/${encodeURIComponent(id)}`;
    if (sub === 'rename') {
      const ws =
        access.via === 'server'
          ? await access.call<WorkspaceView>('PATCH', path, { name: values.name })
          : await updateWorkspaceSettings(access.ctx, id, { name: values.name }, { kind: 'cli' });
      return values.json ? JSON.stringify(ws, null, 2) : `Renamed ${ws.id} to ${ws.name}`;
    }
    const done =
      access.via === 'server'
        ? await access.call<{ id: string; erased: Record<string, number> }>(
            'DELETE',
            `${path}?confirm=${encodeURIComponent(values.confirm ?? '')}`,
          )
        : await deleteWorkspace(access.ctx, id, values.confirm);
    if (values.json) return JSON.stringify(done, null, 2);
    const counts = Object.entries(done.erased)
      .map(([table, n]) => `${n} ${table}`)
      .join(', ');
    return `Deleted ${done.id} and all its data (${counts})`;
  } finally {
    if (access.via === 'direct') await access.close();
  }
}
