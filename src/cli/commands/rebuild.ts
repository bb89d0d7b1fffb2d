import { loadConfig } from '../../config.js';
import { rebuildCrm, type RebuildReport } from '../../services/crm/rebuild-crm.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';

function printReport(r: RebuildReport): string {
  const lines = [
    `${r.applied ? 'Rebuilt' : 'Dry run (nothing changed; add --apply to write)'}: ${r.events} events re-projected for ${r.workspaceId}`,
  ];
  let any = false;
  for (const [table, t] of Object.entries(r.tables)) {
    if (t.added + t.changed + t.removed === 0) continue;
    any = true;
    lines.push(`  ${table.padEnd(18)} +${t.added} added  ~${t.changed} changed  -${t.removed} removed`);
    for (const ex of r.examples[table] ?? []) lines.push(`      ${ex}`);
  }
  if (!any) lines.push('  no changes: the CRM matches the event log');
  return lines.join('\n');
}

export const rebuildCommand: Command = {
  summary: 're-project the CRM of a workspace from its stored events',
  help: [
    'Usage: sluice rebuild --workspace ID [--apply] [--json]',
    '',
    'Replays every processed event of the workspace, in provider order, into a fresh CRM and reports the',
    'rows that would be added, changed or removed per table. Without --apply nothing is changed.',
    'Rows keep their ids; business events are not published again.',
  ].join('\n'),
  async run(args) {
    const { values } = parseOptions(args, { workspace: { type: 'string' }, apply: { type: 'boolean' }, json: { type: 'boolean' } });
    if (!values.workspace) throw new UsageError('--workspace is required');
    const input = { workspaceId: values.workspace, apply: values.apply ?? false };
    const access = await openAccess(loadConfig());
    let report: RebuildReport;
    try {
      if (access.via === 'server') {
        process.stderr.write('rebuilding through the running server…\n');
        report = await access.call<RebuildReport>('POST', `/workspaces/${encodeURIComponent(input.workspaceId)}/rebuild`, {
          apply: input.apply,
        });
      } else {
        report = await rebuildCrm(access.ctx, input, (done, total) => {
          if (process.stderr.isTTY) process.stderr.write(`\r  replayed ${done}/${total} events`);
          else if (done === total || done % 5000 === 0) process.stderr.write(`  replayed ${done}/${total} events\n`);
        });
        if (process.stderr.isTTY) process.stderr.write('\n');
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    process.stdout.write(`${values.json ? JSON.stringify(report, null, 2) : printReport(report)}\n`);
    return 0;
  },
};
