// The `sluice` command: parses argv, dispatches to one command module, turns failures into a message and an
// exit code (0 ok, 1 failure, 2 usage).
import { ConfigError } from '../config.js';
import { DataDirLockedError } from '../lib/data-dir-lock.js';
import { AppError, StoreUnavailableError } from '../errors.js';
import { UsageError, type Command } from './command.js';
import { debugFlagHint } from './debug-hint.js';
import { SLUICE_VERSION } from './version.js';

// Loaded when run: importing every command would load the whole app (over a second on a small machine) before
// `sluice start` could begin to open its database (see commands/start.ts), and a quick command would pay it too.
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./commands/start.js')).startCommand,
  migrate: async () => (await import('./commands/migrate.js')).migrateCommand,
  'migrate-data': async () => (await import('./commands/migrate-data.js')).migrateDataCommand,
  workspace: async () => (await import('./commands/workspace.js')).workspaceCommand,
  user: async () => (await import('./commands/user.js')).userCommand,
  rebuild: async () => (await import('./commands/rebuild.js')).rebuildCommand,
  scan: async () => (await import('./commands/scan.js')).scanCommand,
  retention: async () => (await import('./commands/retention.js')).retentionCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  endpoint: async () => (await import('./commands/endpoint.js')).endpointCommand,
  check: async () => (await import('./commands/check.js')).checkCommand,
  incidents: async () => (await import('./commands/incidents.js')).incidentsCommand,
  listen: async () => (await import('./commands/listen.js')).listenCommand,
  workflow: async () => (await import('./commands/workflow.js')).workflowCommand,
};

async function mainHelp(): Promise<string> {
  const commands = await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => [name, await load()] as const));
  const lines = commands.map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`);
  return [
    'Usage: sluice <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `sluice <command> --help` for the options of a command. Add --debug (or LOG_LEVEL=debug) to any',
    'command to see the stack trace of a failure.',
    'Configuration comes from the environment (PORT, HOST, SLUICE_DATA_DIR, DATABASE_URL, …); see docs/configuration.md.',
  ].join('\n');
}

/** The closest command name, for "did you mean": a typo is at most two edits away. */
function suggest(name: string): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return row[b.length]!;
  };
  let best: { name: string; d: number } | undefined;
  for (const candidate of Object.keys(COMMANDS)) {
    const d = distance(name, candidate);
    if (d <= 2 && (!best || d < best.d)) best = { name: candidate, d };
  }
  return best?.name;
}

/** A stable code for the one-line error: AppError's own, else a Node/driver code (EADDRINUSE, ECONNREFUSED). */
function errorCode(err: unknown): string | undefined {
  if (err instanceof AppError) return err.code;
  if (err instanceof ConfigError) return 'CONFIG_INVALID';
  if (err instanceof DataDirLockedError) return 'DATA_DIR_LOCKED';
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'ENOTFOUND' && e.syscall === 'getaddrinfo')
    return `${(e as { hostname?: string }).hostname ?? 'the host'} does not resolve to an address to listen on; check HOST`;
  if (e.code === 'EADDRINUSE') return `${e.address ?? ''}:${e.port ?? ''} is already in use; stop what listens there or set PORT`;
  if (e.code === 'EACCES' && e.syscall === 'listen')
    return `not allowed to listen on ${e.address ?? ''}:${e.port ?? ''}; use a port above 1023`;
  // The API keeps a store outage's cause to itself; the operator at the terminal needs it (a refused connection, a
  // host that does not resolve). A URL in it would carry the password: cut out.
  if (err instanceof StoreUnavailableError && err.cause instanceof Error) {
    const cause = err.cause.message.replace(/postgres(ql)?:\/\/\S+/gi, '<url>');
    return `cannot reach the database: ${cause}${process.env.DATABASE_URL ? '; check the server DATABASE_URL names, its host and port' : ''}`;
  }
  return err.message;
}

export async function runCli(argv: string[]): Promise<number> {
  // --debug is accepted anywhere, by every command, so it is taken out before a command parses its options.
  const debug = argv.includes('--debug') || process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace';
  const [name, ...rest] = argv.filter((a) => a !== '--debug');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await mainHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${SLUICE_VERSION}\n`);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    const close = suggest(name);
    const what = name.startsWith('-') ? `unknown option "${name}"` : `unknown command "${name}"`;
    process.stderr.write(`sluice: ${what}${close ? `; did you mean "${close}"?` : ''}\nRun \`sluice --help\` for the list of commands.\n`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sluice ${name}: ${err.message}; see sluice ${name} --help\n`);
      return 2;
    }
    // Ordinary failures are one line a user can act on, with the code to search the docs for; the stack is
    // for bug reports and only shown on request.
    const code = errorCode(err);
    if (rest.includes('--json')) {
      // A script that asked for JSON parses stdout: the failure is JSON there too, shaped like the API's errors.
      process.stdout.write(`${JSON.stringify({ error: { code: code ?? 'INTERNAL', message: describe(err) } })}\n`);
      if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      return 1;
    }
    process.stderr.write(`sluice ${name}: ${describe(err)}${code ? ` [${code}]` : ''}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    else if (!(err instanceof AppError || err instanceof ConfigError || err instanceof DataDirLockedError)) {
      process.stderr.write(`Run again with ${debugFlagHint(process.env.npm_lifecycle_event)} for the stack trace.\n`);
    }
    return 1;
  }
}
