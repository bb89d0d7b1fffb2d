import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

export class UsageError extends Error {}

/**
 * A value that is a negative number (`--interval -1`) is taken as the option's value, which parseArgs refuses
 * as "ambiguous": the command's own check then says what a valid value is.
 */
function joinNegativeValues(args: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const option = arg.startsWith('--') ? options[arg.slice(2)] : undefined;
    if (option?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** parseArgs' messages are written for Node programmers (and quote unevenly): the user gets a short one. */
function usageMessage(err: Error & { code?: string }): string {
  const quoted = /'([^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return quoted ? `${quoted} needs a value` : (err.message.split('\n')[0] ?? err.message);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return quoted ? `unexpected argument "${quoted}"` : (err.message.split('\n')[0] ?? err.message);
    default:
      return err.message.split('\n')[0] ?? err.message;
  }
}

/** util.parseArgs with its errors turned into UsageError (printed with a pointer to the command's help). */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: joinNegativeValues(args, options), options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(usageMessage(err as Error & { code?: string }));
  }
}
