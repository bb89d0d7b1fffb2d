// First start of this release on a data dir made by an earlier one: the PGlite database in <dataDir>/pgdata
// is imported into the new, migrated cluster, then renamed pgdata.pglite-imported (kept as a backup).
// Crash safety: a marker file is written before the import and removed after the rename. Finding the marker
// with pgdata still in place means an import was interrupted; the database is then emptied and migrated
// again before the import is redone, so rows are never doubled. Nothing serves on the new cluster before
// the import completes (this runs inside opening the store), so emptying it loses nothing.
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { migrate } from '../migrate.js';
import { importPgliteDataDir } from '../pglite-import.js';
import type { Db } from '../port.js';
import { EmbeddedDbError } from './errors.js';

export const PGLITE_DIR = 'pgdata';
const BACKUP_DIR = 'pgdata.pglite-imported';
const MARKER = 'pglite-import.started';

interface Log {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** Whether <dataDir>/pgdata holds a PGlite cluster not carried over yet. */
export function pglitePending(dataDir: string): boolean {
  return existsSync(path.join(dataDir, PGLITE_DIR, 'PG_VERSION'));
}

/** Imports <dataDir>/pgdata when it holds a PGlite cluster not carried over yet; returns whether it did.
 *  The caller holds the data-dir lock: two imports at once would empty each other's work. */
export async function carryOverPglite(db: Db, dataDir: string, log: Log, importer = importPgliteDataDir): Promise<boolean> {
  const source = path.join(dataDir, PGLITE_DIR);
  const marker = path.join(dataDir, MARKER);
  if (!existsSync(path.join(source, 'PG_VERSION'))) {
    rmSync(marker, { force: true }); // a crash between the rename and the marker's removal
    return false;
  }
  if (existsSync(marker)) {
    log.warn({ dataDir }, 'an earlier import of the PGlite database was interrupted: emptying the new database and importing again');
    await emptySchema(db);
    await migrate(db);
  }
  writeFileSync(marker, `${new Date().toISOString()}\n`, { mode: 0o600 });
  log.info({ from: source }, 'carrying the PGlite database of an earlier release over into PostgreSQL');
  let last = { table: '', at: 0 };
  let result: { tables: number; rows: number };
  try {
    result = await importer(source, db, (p) => {
      const now = Date.now();
      if (p.table !== last.table || now - last.at > 2_000) {
        log.info({ table: p.table, rows: p.rows }, 'importing');
        last = { table: p.table, at: now };
      }
    });
  } catch (err) {
    // Every start retries the import, so a failure that comes back each time (a row the target refuses, a damaged
    // source) would stop Sluice for good: say how to start without it, keeping the only copy of the old data.
    const aside = `${source}.not-imported`;
    throw new EmbeddedDbError(
      'PGLITE_IMPORT_FAILED',
      `carrying the PGlite database ${source} over into the embedded PostgreSQL failed: ${(err as Error).message}. ` +
        'Nothing was removed. If the cause is one you can fix (a full disk, a lost connection to the server), fix it and start again: ' +
        'the import is redone from the start. If it fails the same way on every start, starting again will not help: ' +
        `move the old database aside (\`mv ${source} ${aside}\`, and keep it: it is the only copy of that data); Sluice then starts ` +
        `on an empty database, and \`sluice migrate-data --from ${aside}\`, run with Sluice stopped, imports it later, once the cause ` +
        'is fixed and before any workspace is created (it refuses a database that holds workspaces or events). See docs/troubleshooting.md',
    );
  }
  let backup = path.join(dataDir, BACKUP_DIR);
  if (existsSync(backup)) backup = `${backup}-${Date.now()}`;
  renameSync(source, backup);
  rmSync(marker, { force: true });
  log.info({ ...result, backup }, 'PGlite database carried over; the old files are kept as a backup (delete them once satisfied)');
  return true;
}

/** Drops everything in the schema Sluice works in (public on the embedded server) and recreates it empty. */
async function emptySchema(db: Db): Promise<void> {
  const { rows } = await db.query<{ schema: string }>('SELECT current_schema() AS schema');
  const schema = rows[0]?.schema;
  if (!schema) throw new Error('no current schema');
  const quoted = `"${schema.replaceAll('"', '""')}"`;
  await db.exec(`DROP SCHEMA ${quoted} CASCADE; CREATE SCHEMA ${quoted};`);
}
