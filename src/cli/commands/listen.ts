import { loadConfig } from '../../config.js';
import { listMessages } from '../../services/crm/crm-read.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';

interface Listed {
  id: string;
  type: string;
  timestamp: string;
  data: unknown;
  source: { provider: string; eventId: string | null } | null;
}

// A message's timestamp is its transaction's start, so one that commits late can carry an earlier time than one
// already printed: each poll looks back this far and skips what it has shown.
const LOOK_BACK_MS = 30_000;

export const listenCommand: Command = {
  summary: 'print messages (business, raw provider and custom events) as they are created',
  help: [
    'Usage: sluice listen --workspace ID [--type PATTERN] [--json] [--interval MS]',
    '',
    'Prints every outbound message of the workspace from now on, one line each (or one JSON object per',
    'line with --json), like `stripe listen`. --type takes an exact type or a prefix such as "subscription.*".',
    'Stops with Ctrl-C.',
  ].join('\n'),
  async run(args) {
    const { values } = parseOptions(args, {
      workspace: { type: 'string' },
      type: { type: 'string' },
      json: { type: 'boolean' },
      interval: { type: 'string' },
    });
    if (!values.workspace) throw new UsageError('--workspace is required');
    const intervalMs = values.interval === undefined ? 1000 : Number(values.interval);
    if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new UsageError('--interval must be at least 100 (milliseconds)');
    const ws = values.workspace;
    const access = await openAccess(loadConfig());
    const fetchPage = async (since: Date): Promise<Listed[]> => {
      const query: Record<string, string> = { since: since.toISOString(), limit: '500', ...(values.type ? { type: values.type } : {}) };
      const page: { data: Listed[] } =
        access.via === 'server'
          ? await access.call('GET', `/workspaces/${encodeURIComponent(ws)}/messages?${new URLSearchParams(query).toString()}`)
          : await listMessages(access.ctx, ws, query);
      return page.data;
    };

    let stop = false;
    const onSignal = () => {
      stop = true;
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const seen = new Map<string, number>(); // id → timestamp, pruned past the look-back window
    let cursorTime = Date.now();
    // Whatever already exists is not printed: only what is created from now on.
    for (const m of await fetchPage(new Date(cursorTime - LOOK_BACK_MS))) seen.set(m.id, Date.parse(m.timestamp));
    process.stderr.write(`Listening for messages of ${ws}${values.type ? ` (${values.type})` : ''}; Ctrl-C to stop.\n`);
    try {
      while (!stop) {
        await new Promise((r) => setTimeout(r, intervalMs));
        const batch = (await fetchPage(new Date(cursorTime - LOOK_BACK_MS))).reverse(); // oldest first
        for (const m of batch) {
          if (seen.has(m.id)) continue;
          const at = Date.parse(m.timestamp);
          seen.set(m.id, at);
          cursorTime = Math.max(cursorTime, at);
          process.stdout.write(
            values.json
              ? `${JSON.stringify(m)}\n`
              : `${m.timestamp}  ${m.type.padEnd(32)} ${m.id}${m.source ? `  (${m.source.provider} ${m.source.eventId ?? ''})` : ''}\n`,
          );
        }
        for (const [id, at] of seen) if (at < cursorTime - 2 * LOOK_BACK_MS) seen.delete(id);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (access.via === 'direct') await access.close();
    }
    return 0;
  },
};
