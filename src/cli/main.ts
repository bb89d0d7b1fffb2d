// The `sluice` command: parses argv, dispatches to one command module, turns failures into a message and an
// exit code (0 ok, 1 failure, 2 usage).
import { ConfigError } from '../config.js';
import { DataDirLockedError } from '../lib/data-dir-lock.js';
import { AppError } from '../errors.js';
import { checkCommand } from './commands/check.js';
import { doctorCommand } from './commands/doctor.js';
import { endpointCommand } from './commands/endpoint.js';
import { incidentsCommand } from './commands/incidents.js';
import { listenCommand } from './commands/listen.js';
import { migrateCommand } from './commands/migrate.js';
import { migrateDataCommand } from './commands/migrate-data.js';
import { rebuildCommand } from './commands/rebuild.js';
import { scanCommand } from './commands/scan.js';
import { retentionCommand } from './commands/retention.js';
import { startCommand } from './commands/start.js';
import { workspaceCommand } from './commands/workspace.js';
import { userCommand } from './commands/user.js';
import { workflowCommand } from './commands/workflow.js';
import { UsageError, type Command } from './command.js';
import { SLUICE_VERSION } from './version.js';

const COMMANDS: Record<string, Command> = {
  start: startCommand,
  migrate: migrateCommand,
  'migrate-data': migrateDataCommand,
  workspace: workspaceCommand,
  user: userCommand,
  rebuild: rebuildCommand,
  scan: scanCommand,
  retention: retentionCommand,
  doctor: doctorCommand,
  endpoint: endpointCommand,
  check: checkCommand,
  incidents: incidentsCommand,
  listen: listenCommand,
  workflow: workflowCommand,
};

function mainHelp(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`);
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
  if (e.code === 'EADDRINUSE') return `${e.address ?? ''}:${e.port ?? ''} is already in use; stop what listens there or set PORT`;
  if (e.code === 'EACCES' && e.syscall === 'listen')
    return `not allowed to listen on ${e.address ?? ''}:${e.port ?? ''}; use a port above 1023`;
  return err.message;
}

export async function runCli(argv: string[]): Promise<number> {
  // --debug is accepted anywhere, by every command, so it is taken out before a command parses its options.
  const debug = argv.includes('--debug') || process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace';
  const [name, ...rest] = argv.filter((a) => a !== '--debug');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${SLUICE_VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const close = suggest(name);
    const what = name.startsWith('-') ? `unknown option "${name}"` : `unknown command "${name}"`;
    process.stderr.write(`sluice: ${what}${close ? `; did you mean "${close}"?` : ''}\nRun \`sluice --help\` for the list of commands.\n`);
    return 2;
  }
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
      process.stderr.write('Run again with --debug for the stack trace.\n');
    }
    return 1;
  }
}
