// How a CLI command reaches the data: through the running server's HTTP API when `sluice start` serves the
// embedded data dir (so what it prints, such as webhook URLs, is the server's), else directly.
import { pino } from 'pino';
import { safeLoggerOptions } from '../lib/log-safety.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { readDataDirLock, type LockInfo } from '../lib/data-dir-lock.js';
import { loadOrCreateMasterKey } from '../lib/secret-box.js';
import { openStore } from '../db/open-store.js';
import type { Ctx } from '../services/context.js';
import { createContext } from '../services/create-context.js';

export type ServerCall = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export type Access = { via: 'direct'; ctx: Ctx; close(): Promise<void> } | { via: 'server'; url: string; call: ServerCall };

/** The server answered, but not with 2xx: its error code and message, as the API gave them. */
export class ServerAnswerError extends AppError {}

/** The server in the lock file did not answer at all (stopped, restarting, crashed). */
export class ServerUnreachableError extends AppError {
  constructor(url: string, cause: unknown) {
    super('SERVER_UNREACHABLE', `the sluice server at ${url} did not answer (${(cause as Error)?.message ?? String(cause)})`, 503, true);
  }
}

/** The server holding the embedded data dir, when it is up and serves HTTP; undefined otherwise. */
export function findServer(config: Config): (LockInfo & { url: string; cliToken: string }) | undefined {
  if (config.databaseUrl) return undefined;
  const holder = readDataDirLock(config.dataDir);
  if (!holder?.url || !holder.cliToken) return undefined;
  return { ...holder, url: holder.url, cliToken: holder.cliToken };
}

export function serverCaller(url: string, cliToken: string): ServerCall {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${cliToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ServerUnreachableError(url, (err as { cause?: unknown }).cause ?? err);
    }
    const text = await res.text();
    let json: (T & { error?: { code?: string; message?: string } }) | undefined;
    try {
      json = text ? (JSON.parse(text) as T & { error?: { code?: string; message?: string } }) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      // The rest of the error object (a validation's `problems`) is kept, as an error thrown in-process has it.
      const { code, message, ...details } = json?.error ?? {};
      throw new ServerAnswerError(code ?? `HTTP_${res.status}`, message ?? `server answered ${res.status}`, res.status, false, details);
    }
    return json as T;
  };
}

export async function openAccess(config: Config): Promise<Access> {
  if (!config.databaseUrl) {
    const holder = readDataDirLock(config.dataDir);
    if (holder?.url && holder.cliToken) return { via: 'server', url: holder.url, call: serverCaller(holder.url, holder.cliToken) };
  }
  // Directly: the embedded PostgreSQL server takes any number of sessions, so a command needs no lock (a
  // server still starting, or a worker-only one, is shared; the last one out stops it).
  // Warnings (an interrupted PGlite import being redone) on stderr: stdout may be a --json answer.
  const { db, lock, fixedPermissions } = await openStore(config, pino(safeLoggerOptions('warn'), pino.destination(2)), { lock: false });
  if (fixedPermissions.length > 0) {
    process.stderr.write(
      `warning: the data dir ${config.dataDir} was readable by other users; removed group/other permissions from ${fixedPermissions.length} path(s)\n`,
    );
  }
  let ctx: Ctx;
  try {
    // The server is down (or on PostgreSQL, elsewhere): URLs shown are the ones it uses, from the same config.
    ctx = createContext(config, {
      db,
      masterKey: loadOrCreateMasterKey(config.secretKey, config.dataDir).key,
      log: pino(safeLoggerOptions('warn')),
    });
  } catch (err) {
    await db.close();
    lock?.release();
    throw err;
  }
  return {
    via: 'direct',
    ctx,
    async close() {
      await db.close();
      lock?.release();
    },
  };
}
