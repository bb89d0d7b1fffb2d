// The store a Sluice process works on: the configured database opened, migrated, and on the first start over a
// data dir of an earlier release its PGlite data carried over. Kept apart from main.ts, which loads the whole app:
// `sluice start` opens the store first, so that a first start's initdb runs while the app loads.
import path from 'node:path';
import { AppError } from '../errors.js';
import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';
import { acquireDataDirLock, type DataDirLock } from '../lib/data-dir-lock.js';
import { safeLoggerOptions } from '../lib/log-safety.js';
import { ensurePrivateDir } from '../lib/private-files.js';
import { carryOverPglite, pglitePending } from './embedded/carry-over.js';
import { migrate } from './migrate.js';
import { openDb } from './open.js';
import type { Db } from './port.js';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino(safeLoggerOptions(config.logLevel));
}

export interface Store {
  db: Db;
  /** The data-dir lock of the one `sluice start` of an embedded data dir; undefined on DATABASE_URL and for CLI commands. */
  lock: DataDirLock | undefined;
  /** Data-dir paths that were readable by group/others and have been made private. */
  fixedPermissions: string[];
}

/** Makes the data dir private (0700, nothing readable by group/others) when Sluice keeps anything in it;
 *  returns the paths whose permissions had to be tightened, for a warning. */
export function securePrivateDataDir(config: Config): string[] {
  if (config.databaseUrl && config.secretKey) return [];
  if (config.databaseUrl) return ensurePrivateDir(config.dataDir);
  return ensurePrivateDir(config.dataDir, { skip: ['postgres'], searchable: process.getuid?.() === 0 });
}

/** Opens the configured database (taking the data-dir lock in embedded mode) and applies migrations; on the
 *  first start over a data dir of an earlier release, carries its PGlite database over.
 *  `fixedPermissions` lists data-dir paths that were readable by group/others and have been made private. */
export async function openStore(config: Config, log?: Logger, opts: { lock?: boolean } = {}): Promise<Store> {
  // The lock marks the one `sluice start` of an embedded data dir (the only worker there); CLI commands share
  // the embedded server without it.
  const lock =
    config.databaseUrl || opts.lock === false ? undefined : dataDirStep(config.dataDir, () => acquireDataDirLock(config.dataDir));
  try {
    const fixedPermissions = dataDirStep(config.dataDir, () => securePrivateDataDir(config));
    const db = config.databaseUrl ? await openDb(config, log) : await dataDirStepAsync(config.dataDir, () => openDb(config, log));
    try {
      await migrate(db);
      if (db.kind === 'embedded' && pglitePending(config.dataDir)) {
        // A CLI command runs without the lock, but an import must run alone: it takes the lock for it.
        const importLock = lock ?? acquireDataDirLock(config.dataDir);
        try {
          await carryOverPglite(db, config.dataDir, log ?? pino(safeLoggerOptions('warn'), pino.destination(2)));
        } finally {
          if (importLock !== lock) importLock.release();
        }
      }
    } catch (err) {
      await db.close();
      throw err;
    }
    return { db, lock, fixedPermissions };
  } catch (err) {
    lock?.release();
    throw err;
  }
}

/** Closes a store still being opened, once it is open: for a start that failed before it took the store over. */
export async function closeOpening(opening: Promise<Store>): Promise<void> {
  const store = await opening.catch(() => undefined);
  if (!store) return;
  await store.db.close();
  store.lock?.release();
}

/** What a file-system error on the data dir means to an operator, by its code. */
const DATA_DIR_PROBLEMS: Record<string, string> = {
  EEXIST: 'it, or a path in it or above it, exists but is not a directory',
  ENOTDIR: 'a path in it or above it is a file where a directory must be',
  EROFS: 'it is on a read-only file system',
  EACCES: 'this user may not write there',
  EPERM: 'this user may not change it',
  ENOSPC: 'its disk is full',
  ENOENT: 'a directory above it does not exist and cannot be created',
};

/** Runs a step on the data dir, turning a bare errno (`EROFS: read-only file system, open '…/sluice.lock…'`) into
 *  DATA_DIR_UNUSABLE, which names SLUICE_DATA_DIR and what is wrong with it. */
function dataDirStep<T>(dataDir: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw dataDirError(dataDir, err);
  }
}

async function dataDirStepAsync<T>(dataDir: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw dataDirError(dataDir, err);
  }
}

function dataDirError(dataDir: string, err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  const why = typeof e.code === 'string' ? DATA_DIR_PROBLEMS[e.code] : undefined;
  // Only errors on the data dir itself, a path in it or a directory above it (not a binary that failed to spawn).
  const dir = path.resolve(dataDir);
  const at = typeof e.path === 'string' ? path.resolve(e.path) : undefined;
  if (!why || !at || !(at === dir || at.startsWith(`${dir}${path.sep}`) || dir.startsWith(`${at}${path.sep}`))) return err;
  return new AppError(
    'DATA_DIR_UNUSABLE',
    `the data dir ${dataDir} (SLUICE_DATA_DIR) cannot be used: ${why} (${e.code} on ${e.path}); choose another with SLUICE_DATA_DIR, or fix this one`,
    500,
  );
}
