// The `sluice` command: parses argv, dispatches to one command module, turns failures into a message and an
// exit code (0 ok, 1 failure, 2 usage).
import { ConfigError } from '../config.js';
import { DataDirLockedError } from '../lib/data-dir-lock.js';
import { AppError } from '../errors.js';
import { doctorCommand } from './commands/doctor.js';
import { endpointCommand } from './commands/endpoint.js';
import { listenCommand } from './commands/listen.js';
import { migrateCommand } from './commands/migrate.js';
import { rebuildCommand } from './commands/rebuild.js';
import { startCommand } from './commands/start.js';
import { workspaceCommand } from './commands/workspace.js';
import { UsageError, type Command } from './command.js';

const COMMANDS: Record<string, Command> = {
  start: startCommand,
  migrate: migrateCommand,
  workspace: workspaceCommand,
  rebuild: rebuildCommand,
  doctor: doctorCommand,
  endpoint: endpointCommand,
  listen: listenCommand,
};

function mainHelp(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`);
  return [
    'Usage: sluice <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `sluice <command> --help` for the options of a command.',
    'Configuration comes from the environment (PORT, HOST, SLUICE_DATA_DIR, DATABASE_URL, …); see the README.',
  ].join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`sluice: unknown command "${name}"\n\n${mainHelp()}\n`);
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
      process.stderr.write(`sluice ${name}: ${err.message}\n\n${command.help}\n`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof DataDirLockedError || err instanceof AppError) {
      process.stderr.write(`sluice ${name}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`sluice ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
