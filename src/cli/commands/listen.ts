import { loadConfig, publicBaseUrl, type Config } from '../../config.js';
import { StoreUnavailableError } from '../../errors.js';
import { listMessages } from '../../services/crm/crm-read.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { findServer, openAccess, serverCaller, ServerAnswerError, ServerUnreachableError, type Access } from '../local.js';

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

type FetchPage = (since: Date) => Promise<Listed[]>;

/** Where the messages come from. Embedded: only ever the running server's API, found through the lock file
 *  and found again after a restart (new port, new token), so listen never holds the data dir and a server can
 *  start beside it. PostgreSQL: the database directly, which needs no lock. */
function messageSource(config: Config, ws: string, type: string | undefined) {
  const query = (since: Date): Record<string, string> => ({ since: since.toISOString(), limit: '500', ...(type ? { type } : {}) });
  const path = (since: Date) => `/workspaces/${encodeURIComponent(ws)}/messages?${new URLSearchParams(query(since)).toString()}`;
  let direct: Access | undefined;
  return {
    /** undefined: nothing to read from yet (no server). */
    async connect(): Promise<{ fetchPage: FetchPage; where: string } | undefined> {
      if (config.databaseUrl) {
        direct ??= await openAccess(config);
        const access = direct;
        if (access.via !== 'direct') throw new Error('unreachable: PostgreSQL access is always direct');
        return { fetchPage: async (since) => (await listMessages(access.ctx, ws, query(since))).data as Listed[], where: 'the database' };
      }
      const server = findServer(config);
      if (!server) return undefined;
      const call = serverCaller(server.url, server.cliToken);
      return { fetchPage: async (since) => (await call<{ data: Listed[] }>('GET', path(since))).data, where: server.url };
    },
    async close() {
      if (direct?.via === 'direct') await direct.close();
    },
  };
}

/** Errors that mean "the server or database went away": wait and reconnect instead of exiting. A token the
 *  server no longer accepts (401 after a restart) is one too: the next lock file carries the new token. */
function isTransient(err: unknown): boolean {
  return (
    err instanceof ServerUnreachableError ||
    err instanceof StoreUnavailableError ||
    (err instanceof ServerAnswerError && (err.status === 401 || err.status >= 500))
  );
}

export const listenCommand: Command = {
  summary: 'print messages (business, raw provider and custom events) as they are created',
  help: [
    'Usage: sluice listen --workspace ID [--type PATTERN] [--json] [--interval MS]',
    '',
    'Prints every outbound message of the workspace from now on, one line each (or one JSON object per',
    'line with --json), like `stripe listen`. --type takes an exact type or a prefix such as "subscription.*".',
    'With the embedded database it reads through the running server: it waits for a server that is not up',
    'yet and reconnects after a restart. Stops with Ctrl-C.',
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
    // Above a day the poll would be pointless, and above 2^31 - 1 ms Node's timers fire after 1 ms instead.
    if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > 86_400_000)
      throw new UsageError('--interval must be a whole number of milliseconds from 100 to 86400000 (a day)');
    const ws = values.workspace;
    const config = loadConfig();
    const source = messageSource(config, ws, values.type);

    let stop = false;
    let wake: (() => void) | undefined;
    const onSignal = () => {
      stop = true;
      wake?.();
    };
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const startedAt = Date.now();
    const seen = new Map<string, number>(); // id → timestamp, pruned past the look-back window
    let cursorTime = startedAt;
    let primed = false;
    let waitingSaid = false;
    let fetchPage: FetchPage | undefined;
    try {
      while (!stop) {
        if (!fetchPage) {
          const connected = await source.connect();
          if (!connected) {
            if (!waitingSaid) {
              process.stderr.write(
                `waiting for the server at ${publicBaseUrl(config)} (data dir ${config.dataDir}); start it with \`sluice start\`…\n`,
              );
              waitingSaid = true;
            }
            await sleep(intervalMs);
            continue;
          }
          fetchPage = connected.fetchPage;
          waitingSaid = false;
          process.stderr.write(
            `${primed ? 'Reconnected: listening' : 'Listening'} for messages of ${ws}${values.type ? ` (${values.type})` : ''} through ${connected.where}; Ctrl-C to stop.\n`,
          );
        }
        try {
          const batch = (await fetchPage(new Date(cursorTime - LOOK_BACK_MS))).reverse(); // oldest first
          for (const m of batch) {
            if (seen.has(m.id)) continue;
            const at = Date.parse(m.timestamp);
            seen.set(m.id, at);
            // Only what is created from the moment listen started is printed, even if the server came later.
            if (!primed && at < startedAt) continue;
            cursorTime = Math.max(cursorTime, at);
            process.stdout.write(
              values.json
                ? `${JSON.stringify(m)}\n`
                : `${m.timestamp}  ${m.type.padEnd(32)} ${m.id}${m.source ? `  (${m.source.provider} ${m.source.eventId ?? ''})` : ''}\n`,
            );
          }
          primed = true;
          for (const [id, at] of seen) if (at < cursorTime - 2 * LOOK_BACK_MS) seen.delete(id);
        } catch (err) {
          if (!isTransient(err)) throw err;
          process.stderr.write(`lost the connection (${(err as Error).message}); waiting for the server to come back…\n`);
          fetchPage = undefined;
          waitingSaid = true;
        }
        if (!stop) await sleep(intervalMs);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await source.close();
    }
    return 0;
  },
};
