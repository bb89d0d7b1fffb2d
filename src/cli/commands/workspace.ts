import { loadConfig } from '../../config.js';
import { createWorkspace } from '../../services/workspaces/create-workspace.js';
import { listWorkspaces } from '../../services/workspaces/list-workspaces.js';
import type { WorkspaceView } from '../../services/workspaces/workspace-view.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';
import { changeWorkspace } from './workspace-change.js';

const HELP = [
  'Usage: sluice workspace create --name NAME [--demo] [--json]',
  '       sluice workspace list [--json]',
  '       sluice workspace rename WS --name NAME [--json]',
  '       sluice workspace delete WS --confirm WS [--json]',
  '',
  '  create   creates a workspace and prints its id and webhook URLs',
  '  list     lists workspaces, newest first',
  '  rename   gives a workspace a new name (its id and webhook URLs stay)',
  '  delete   erases a workspace and all its data; --confirm repeats its id',
  '  --demo   a demo workspace answers live-mode traffic with 200 and ignores it',
  '  --json   print JSON instead of text',
  '',
  'While `sluice start` holds the embedded data dir, this goes through its HTTP API.',
].join('\n');

function printWorkspace(ws: WorkspaceView): string {
  return [
    `${ws.id}  ${ws.name}${ws.demo ? '  (demo)' : ''}`,
    `  Stripe webhook URL: ${ws.webhookUrls.stripe}`,
    `  Piano webhook URL:  ${ws.webhookUrls.piano}`,
  ].join('\n');
}

export const workspaceCommand: Command = {
  summary: 'create, list, rename and delete workspaces',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseOptions(
      args,
      { name: { type: 'string' }, demo: { type: 'boolean' }, json: { type: 'boolean' }, confirm: { type: 'string' } },
      true,
    );
    const [sub, ...extra] = positionals;
    if (sub === 'rename' || sub === 'delete') {
      process.stdout.write(`${await changeWorkspace(sub, extra, values)}\n`);
      return 0;
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (sub !== 'create' && sub !== 'list')
      throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'give a subcommand: create, list, rename or delete');
    if (sub === 'create' && !values.name) throw new UsageError('--name is required');

    const access = await openAccess(loadConfig());
    let out: string;
    try {
      if (sub === 'create') {
        const input = { name: values.name, demo: values.demo ?? false };
        const ws =
          access.via === 'server'
            ? await access.call<WorkspaceView>('POST', '/workspaces', input)
            : await createWorkspace(access.ctx, input);
        out = values.json ? JSON.stringify(ws, null, 2) : `Created workspace ${printWorkspace(ws)}`;
      } else {
        const all: WorkspaceView[] = [];
        let cursor: string | null = null;
        do {
          const query: Record<string, string> = { limit: '500', ...(cursor ? { cursor } : {}) };
          const page: { data: WorkspaceView[]; nextCursor: string | null } =
            access.via === 'server'
              ? await access.call('GET', `/workspaces?${new URLSearchParams(query).toString()}`)
              : await listWorkspaces(access.ctx, { kind: 'admin' }, query);
          all.push(...page.data);
          cursor = page.nextCursor;
        } while (cursor);
        out = values.json
          ? JSON.stringify(all, null, 2)
          : all.length === 0
            ? 'no workspaces yet: sluice workspace create --name NAME'
            : all.map(printWorkspace).join('\n');
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    process.stdout.write(`${out}\n`);
    return 0;
  },
};
