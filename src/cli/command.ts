import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

export class UsageError extends Error {}

/** util.parseArgs with its errors turned into UsageError (printed with the command's help). */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
