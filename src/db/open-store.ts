// The store a Sluice process works on: the configured database opened, migrated, and on the first start over a
// data dir of an earlier release its PGlite data carried over. Kept apart from main.ts, which loads the whole app:
// `sluice start` opens the store first, so that a first start's initdb runs while the app loads.
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
  const lock = config.databaseUrl || opts.lock === false ? undefined : acquireDataDirLock(config.dataDir);
  try {
    const fixedPermissions = securePrivateDataDir(config);
    const db = await openDb(config, log);
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
