import { loadConfig } from '../../config.js';
import { createUser } from '../../services/users/create-user.js';
import { deleteUser, listUsers } from '../../services/users/manage-users.js';
import type { UserView } from '../../services/users/user-view.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';

const HELP = [
  'Usage: sluice user create --email EMAIL --role admin|member|viewer [--workspace WS]... [--json]',
  '       sluice user list [--json]',
  '       sluice user delete USER_ID',
  '',
  '  create       creates a console user and prints a one-time link (72 hours) where they set their password',
  '  --workspace  the workspaces the user may open (repeat the option); without it, every workspace',
  '  list         lists the users, with their role and workspaces',
  '  delete       deletes a user and ends their sessions',
  '',
  'Roles: admin (connections, secrets, endpoints, keys, settings), member (replay, retry, acknowledge),',
  'viewer (read only). While `sluice start` holds the embedded data dir, this goes through its HTTP API.',
].join('\n');

function describe(u: UserView): string {
  const where = u.workspaces === null ? 'every workspace' : u.workspaces.join(', ');
  return `${u.id}  ${u.email}  ${u.role}  (${where})${u.hasPassword ? '' : '  password not set yet'}`;
}

export const userCommand: Command = {
  summary: 'create, list and delete console users',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseOptions(
      args,
      { email: { type: 'string' }, role: { type: 'string' }, workspace: { type: 'string', multiple: true }, json: { type: 'boolean' } },
      true,
    );
    const [sub, ...extra] = positionals;
    if (sub !== 'create' && sub !== 'list' && sub !== 'delete')
      throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'give a subcommand: create, list or delete');
    if (sub === 'delete' ? extra.length !== 1 : extra.length > 0)
      throw new UsageError(sub === 'delete' ? 'give the id of the user to delete (usr_…)' : `unexpected argument "${extra[0]}"`);
    if (sub === 'create' && !values.email) throw new UsageError('--email is required');
    if (sub === 'create' && !values.role) throw new UsageError('--role is required: admin, member or viewer');

    const access = await openAccess(loadConfig());
    let out: string;
    try {
      if (sub === 'create') {
        const input = { email: values.email, role: values.role, ...(values.workspace ? { workspaces: values.workspace } : {}) };
        const made =
          access.via === 'server'
            ? await access.call<{ user: UserView; setPasswordUrl?: string }>('POST', '/users', input)
            : await createUser(access.ctx, { kind: 'cli' }, input);
        out = values.json
          ? JSON.stringify(made, null, 2)
          : `Created ${describe(made.user)}\n\nSend them this one-time link to set their password (valid 72 hours):\n\n  ${made.setPasswordUrl}`;
      } else if (sub === 'list') {
        const list =
          access.via === 'server' ? (await access.call<{ data: UserView[] }>('GET', '/users')).data : await listUsers(access.ctx);
        out = values.json ? JSON.stringify(list, null, 2) : list.length === 0 ? 'no users yet' : list.map(describe).join('\n');
      } else {
        const id = extra[0]!;
        if (access.via === 'server') await access.call('DELETE', `/users/${encodeURIComponent(id)}`);
        else await deleteUser(access.ctx, { kind: 'cli' }, id);
        out = `Deleted ${id}`;
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    process.stdout.write(`${out}\n`);
    return 0;
  },
};
