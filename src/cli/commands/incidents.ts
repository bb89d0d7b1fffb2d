import { loadConfig } from '../../config.js';
import { changeIncident, type IncidentAction } from '../../services/incidents/change-incident.js';
import type { IncidentView } from '../../services/incidents/incident-view.js';
import { listIncidents } from '../../services/incidents/list-incidents.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';
import { workspaceOf } from '../workspace-choice.js';

const HELP = [
  'Usage: sluice incidents list [--workspace ID] [--status S[,S…]] [--kind K[,K…]] [--json]',
  '       sluice incidents ack|resolve|ignore|reopen ID [--workspace ID] [--json]',
  '',
  '  list      incidents, newest first; by default the open and acknowledged ones',
  '  ack       acknowledge an open incident (someone is on it; it still resolves by itself once found clean)',
  '  resolve   resolve an incident (announced as incident.resolved); if the problem recurs, a new one opens',
  '  ignore    keep the incident but suppress it: recurrences fold into it, nothing re-opens or is announced',
  '  reopen    open a resolved or ignored incident again',
  '  --status  open, acknowledged, resolved, ignored (comma-separated)',
  '  --kind    e.g. access_missing,webhook_lag (comma-separated)',
  '  --workspace  may be left out when there is only one workspace',
  '',
  'While `sluice start` holds the embedded data dir, this goes through its HTTP API.',
].join('\n');

const ACTIONS: Record<string, IncidentAction> = {
  ack: 'acknowledge',
  acknowledge: 'acknowledge',
  resolve: 'resolve',
  ignore: 'ignore',
  reopen: 'reopen',
};

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120
    ? `${s}s ago`
    : s < 7200
      ? `${Math.round(s / 60)}m ago`
      : s < 172800
        ? `${Math.round(s / 3600)}h ago`
        : `${Math.round(s / 86400)}d ago`;
}

function printIncident(i: IncidentView, now: number): string {
  return [
    `${i.id}  ${i.status.toUpperCase().padEnd(12)} ${i.kind}  ${i.subject}`,
    `  ${i.title}`,
    `  seen ${i.occurrences}× since ${i.firstSeenAt}, last ${ago(i.lastSeenAt, now)}` +
      (i.resolvedBy ? `; resolved by ${i.resolvedBy}` : i.acknowledgedBy ? `; acknowledged by ${i.acknowledgedBy}` : '') +
      (i.ignoredBy ? `; ignored by ${i.ignoredBy}` : ''),
  ].join('\n');
}

export const incidentsCommand: Command = {
  summary: 'list incidents and acknowledge, resolve, ignore or reopen them',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseOptions(
      args,
      { workspace: { type: 'string' }, status: { type: 'string' }, kind: { type: 'string' }, json: { type: 'boolean' } },
      true,
    );
    const [sub, id, ...extra] = positionals;
    if (sub !== 'list' && !(sub && sub in ACTIONS)) {
      throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'give a subcommand: list, ack, resolve, ignore or reopen');
    }
    if (sub === 'list' && id !== undefined) throw new UsageError(`unexpected argument "${id}"`);
    if (sub !== 'list' && !id) throw new UsageError(`give the incident id: sluice incidents ${sub} inc_…`);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (sub !== 'list' && (values.status !== undefined || values.kind !== undefined)) {
      throw new UsageError('--status and --kind filter the list only');
    }

    const access = await openAccess(loadConfig());
    let out: string;
    try {
      const ws = await workspaceOf(access, values.workspace);
      const base = `/workspaces/${encodeURIComponent(ws)}/incidents`;
      const now = Date.now();
      if (sub === 'list') {
        const all: IncidentView[] = [];
        let cursor: string | null = null;
        do {
          const query: Record<string, string> = {
            limit: '500',
            ...(values.status ? { status: values.status } : {}),
            ...(values.kind ? { kind: values.kind } : {}),
            ...(cursor ? { cursor } : {}),
          };
          const page: { data: IncidentView[]; nextCursor: string | null } =
            access.via === 'server'
              ? await access.call('GET', `${base}?${new URLSearchParams(query).toString()}`)
              : await listIncidents(access.ctx, ws, query);
          all.push(...page.data);
          cursor = page.nextCursor;
        } while (cursor);
        out = values.json
          ? JSON.stringify(all, null, 2)
          : all.length === 0
            ? `no ${values.status ? values.status.replaceAll(',', ' or ') : 'open or acknowledged'} incidents in ${ws}`
            : all.map((i) => printIncident(i, now)).join('\n');
      } else {
        const action = ACTIONS[sub]!;
        const changed =
          access.via === 'server'
            ? await access.call<IncidentView>('POST', `${base}/${encodeURIComponent(id!)}/${action}`)
            : await changeIncident(access.ctx, { kind: 'cli' }, ws, id!, action);
        out = values.json ? JSON.stringify(changed, null, 2) : `${changed.id} ${changed.status} (${changed.kind}, ${changed.subject})`;
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    process.stdout.write(`${out}\n`);
    return 0;
  },
};
