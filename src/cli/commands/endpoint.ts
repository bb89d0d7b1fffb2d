import { loadConfig } from '../../config.js';
import { createEndpoint } from '../../services/outbound/create-endpoint.js';
import { listEndpoints } from '../../services/outbound/endpoint-read.js';
import type { EndpointView } from '../../services/outbound/endpoint-view.js';
import { updateEndpoint } from '../../services/outbound/update-endpoint.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';

const HELP = [
  'Usage: sluice endpoint add --workspace ID --url URL [--events TYPES] [--description TEXT] [--rate-limit N] [--json]',
  '       sluice endpoint list --workspace ID [--json]',
  '       sluice endpoint pause|resume|disable|enable --workspace ID --endpoint EP',
  '',
  '  add       creates an outbound endpoint and prints its signing secret (shown this once)',
  '  list      endpoints with their state and their pending and failed deliveries',
  '  pause     holds deliveries: messages published meanwhile are queued and wait; resume sends them',
  '  resume    sends what waited while paused, then delivers as usual (same as enable)',
  '  disable   stops the endpoint: messages published meanwhile get no delivery at all; to send them',
  '            later, enable it and run POST …/endpoints/EP/recover {"since": …}',
  '  enable    delivers again (also what was already pending when it was disabled)',
  '  --events  comma-separated event types or prefixes, e.g. "subscription.*,order.completed"; default: every type',
  '',
  'While `sluice start` holds the embedded data dir, this goes through its HTTP API.',
].join('\n');

type Listed = EndpointView & { deliveries: { pending: number; failed: number } };

const STATE_OF: Record<string, EndpointView['state']> = { pause: 'paused', resume: 'enabled', disable: 'disabled', enable: 'enabled' };

export const endpointCommand: Command = {
  summary: 'add, list, pause, resume, disable and enable outbound webhook endpoints',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseOptions(
      args,
      {
        workspace: { type: 'string' },
        url: { type: 'string' },
        events: { type: 'string' },
        description: { type: 'string' },
        'rate-limit': { type: 'string' },
        endpoint: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    const [sub, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (!['add', 'list', ...Object.keys(STATE_OF)].includes(sub ?? '')) {
      throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'give a subcommand: add, list, pause, resume, disable or enable');
    }
    const ws = values.workspace;
    if (!ws) throw new UsageError('--workspace is required');
    if (sub === 'add' && !values.url) throw new UsageError('--url is required');
    if (sub! in STATE_OF && !values.endpoint) throw new UsageError('--endpoint is required');
    let rateLimit: number | undefined;
    if (values['rate-limit'] !== undefined) {
      rateLimit = Number(values['rate-limit']);
      if (!Number.isInteger(rateLimit)) throw new UsageError('--rate-limit must be a whole number of deliveries per second');
    }

    const access = await openAccess(loadConfig());
    const base = `/workspaces/${encodeURIComponent(ws)}/endpoints`;
    let out: string;
    try {
      if (sub === 'add') {
        const input = {
          url: values.url,
          ...(values.events
            ? {
                eventTypes: values.events
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean),
              }
            : {}),
          ...(values.description ? { description: values.description } : {}),
          ...(rateLimit !== undefined ? { rateLimit } : {}),
        };
        const ep =
          access.via === 'server'
            ? await access.call<EndpointView & { secret: string }>('POST', base, input)
            : await createEndpoint(access.ctx, ws, input, 'endpoint', {}, { kind: 'cli' });
        out = values.json
          ? JSON.stringify(ep, null, 2)
          : [
              `Created endpoint ${ep.id} → ${ep.url}`,
              `  events: ${ep.eventTypes.length ? ep.eventTypes.join(', ') : 'all'}`,
              `  signing secret (shown once; verify deliveries with any Standard Webhooks library):`,
              `    ${ep.secret}`,
            ].join('\n');
      } else if (sub === 'list') {
        const all: Listed[] = [];
        let cursor: string | null = null;
        do {
          const query: Record<string, string> = { limit: '500', ...(cursor ? { cursor } : {}) };
          const page: { data: Listed[]; nextCursor: string | null } =
            access.via === 'server'
              ? await access.call('GET', `${base}?${new URLSearchParams(query).toString()}`)
              : await listEndpoints(access.ctx, ws, query);
          all.push(...page.data);
          cursor = page.nextCursor;
        } while (cursor);
        out = values.json
          ? JSON.stringify(all, null, 2)
          : all.length === 0
            ? `no endpoints yet: sluice endpoint add --workspace ${ws} --url https://…`
            : all
                .map(
                  (e) =>
                    `${e.id}  ${(e.state === 'enabled' ? e.state : e.state.toUpperCase()).padEnd(8)}  ${e.url}\n` +
                    `  events: ${e.eventTypes.length ? e.eventTypes.join(', ') : 'all'}; pending ${e.deliveries.pending}, failed ${e.deliveries.failed}` +
                    (e.state === 'enabled' ? '' : `; ${e.disabledReason ?? ''}`),
                )
                .join('\n');
      } else {
        const input = { state: STATE_OF[sub!] };
        const ep =
          access.via === 'server'
            ? await access.call<EndpointView>('PATCH', `${base}/${encodeURIComponent(values.endpoint!)}`, input)
            : await updateEndpoint(access.ctx, ws, values.endpoint!, input, { kind: 'cli' });
        out = `${ep.id} ${ep.state}${ep.state === 'paused' ? ' (deliveries wait; resume sends them)' : ep.state === 'disabled' ? ' (no deliveries are created; recover resends)' : ''}`;
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    process.stdout.write(`${out}\n`);
    return 0;
  },
};
