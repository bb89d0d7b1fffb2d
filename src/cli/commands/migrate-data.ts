import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../../config.js';
import { migrate } from '../../db/migrate.js';
import { openDb } from '../../db/open.js';
import { checkPgliteDataDir, importPgliteDataDir, PgliteImportError } from '../../db/pglite-import.js';
import type { Db } from '../../db/port.js';
import { acquireDataDirLock, DataDirLockedError, readDataDirLock } from '../../lib/data-dir-lock.js';
import { masterKeyOpensSecrets, type MasterKeyVerdict } from '../../services/connections/master-key-opens-secrets.js';
import { parse as parseConnectionString } from 'pg-connection-string';
import { parseOptions, type Command } from '../command.js';

const IMPORTED_SUFFIX = '.pglite-imported';

/** Where the answers of a failure would point: the database without its credentials. */
function targetName(config: Config): string {
  if (!config.databaseUrl) return 'the embedded database';
  try {
    const c = parseConnectionString(config.databaseUrl);
    return `PostgreSQL at ${c.host ?? 'localhost'}:${c.port ?? '5432'}/${c.database ?? ''}`;
  } catch {
    return 'the PostgreSQL of DATABASE_URL';
  }
}

/** Sealed secrets were copied as bytes: the key the server will use (read, never created) must open them. */
async function checkMasterKey(db: Db, config: Config): Promise<{ result: MasterKeyVerdict; hint?: string }> {
  const keyFile = path.join(config.dataDir, 'secret.key');
  const key = config.secretKey ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined);
  const result = await masterKeyOpensSecrets(db, key);
  if (result === 'missing') return { result, hint: `no master key: neither SLUICE_SECRET_KEY nor ${keyFile} exists` };
  if (result === 'mismatch') {
    const source = config.secretKey !== undefined ? 'SLUICE_SECRET_KEY' : keyFile;
    return { result, hint: `the master key (${source}) does not open the imported connection secrets` };
  }
  return { result };
}

/** `<dir>.pglite-imported`, or a dated variant when an earlier import already left that name. */
function importedName(dir: string): string {
  const plain = `${dir}${IMPORTED_SUFFIX}`;
  if (!existsSync(plain)) return plain;
  return `${plain}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
}

function progressPrinter(): { onProgress: (p: { table: string; rows: number }) => void; done(): void } {
  const tty = process.stderr.isTTY;
  let current: { table: string; rows: number } | undefined;
  let printedAt = 0;
  const line = (p: { table: string; rows: number }) => `  ${p.table.padEnd(20)} ${p.rows} rows`;
  const finish = () => {
    if (current) process.stderr.write(tty ? `\r${line(current)}\n` : `${line(current)}\n`);
  };
  return {
    onProgress(p) {
      if (current && current.table !== p.table) finish();
      if (!current || current.table !== p.table) printedAt = 0;
      current = p;
      if (tty) process.stderr.write(`\r${line(p)}`);
      else if (p.rows - printedAt >= 50_000) {
        printedAt = p.rows;
        process.stderr.write(`${line(p)} so far\n`);
      }
    },
    done: finish,
  };
}

export const migrateDataCommand: Command = {
  summary: 'import an embedded PGlite data dir into the configured database',
  help: [
    'Usage: sluice migrate-data [--from DIR] [--keep] [--json]',
    '',
    'Copies every row of a PGlite data dir, the embedded database of earlier releases, into the configured',
    'database (DATABASE_URL, or the embedded PostgreSQL under $SLUICE_DATA_DIR), in one transaction: a failure',
    'leaves the target as it was. The target must hold no workspaces or events yet. Row counts are compared',
    'table by table before the commit.',
    '',
    'Options:',
    '  --from DIR   the PGlite data dir (default: $SLUICE_DATA_DIR/pgdata)',
    '  --keep       leave the PGlite dir where it is; by default it is renamed to DIR.pglite-imported',
    '  --json       print the summary as JSON',
    '',
    'Stored secrets are copied as they are (sealed): keep the master key, $SLUICE_DATA_DIR/secret.key or',
    'SLUICE_SECRET_KEY, as it was; the same key opens them after the import.',
  ].join('\n'),
  async run(args) {
    const { values } = parseOptions(args, { from: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' } });
    const config = loadConfig();
    const source = path.resolve(values.from ?? path.join(config.dataDir, 'pgdata'));
    checkPgliteDataDir(source);

    // PGlite has one process per dir: a sluice of an earlier release still running on it must be stopped.
    const sourceHolder = readDataDirLock(path.dirname(source));
    if (sourceHolder) {
      throw new DataDirLockedError(
        path.dirname(source),
        sourceHolder,
        `the PGlite data dir ${source} is in use by another sluice process (pid ${sourceHolder.pid}); stop it first`,
      );
    }
    const lock = config.databaseUrl ? undefined : acquireDataDirLock(config.dataDir);
    let summary: { source: string; target: string; tables: number; rows: number; renamedTo: string | null; masterKey: MasterKeyVerdict };
    let keyHint: string | undefined;
    try {
      const db = await openDb(config);
      try {
        // The embedded PostgreSQL is a target like DATABASE_URL's server (the carry-over on first start imports into
        // it, and PGLITE_IMPORT_FAILED sends the operator here to do the same later); only PGlite itself is not.
        if (db.kind === 'pglite') {
          throw new PgliteImportError(
            'IMPORT_TARGET_INVALID',
            'the configured database is the embedded PGlite itself; set DATABASE_URL to the PostgreSQL to import into',
          );
        }
        await migrate(db);
        process.stderr.write(`importing ${source} into ${targetName(config)}…\n`);
        const progress = progressPrinter();
        let result: { tables: number; rows: number };
        try {
          result = await importPgliteDataDir(source, db, progress.onProgress);
        } finally {
          progress.done();
        }
        const key = await checkMasterKey(db, config);
        keyHint = key.hint;
        summary = { source, target: targetName(config), ...result, renamedTo: null, masterKey: key.result };
      } finally {
        await db.close();
      }
    } finally {
      lock?.release();
    }
    // Only after the commit: a failed import leaves the dir where the next attempt (or an older release) finds it.
    if (!values.keep) {
      const renamed = importedName(source);
      try {
        renameSync(source, renamed);
      } catch (err) {
        throw new PgliteImportError(
          'IMPORT_RENAME_FAILED',
          `imported ${summary.rows} rows (committed), but could not rename ${source} to ${renamed}: ${(err as Error).message}; ` +
            'rename or remove it yourself so that it is not imported again',
        );
      }
      summary.renamedTo = renamed;
    }
    if (keyHint) {
      const sourceKey = path.join(path.dirname(source), 'secret.key');
      process.stderr.write(
        `warning: ${keyHint}. The secrets were copied sealed, exactly as they were: start with the key the PGlite data dir ` +
          `used (${existsSync(sourceKey) && path.dirname(source) !== config.dataDir ? `copy ${sourceKey} to ${config.dataDir}/secret.key, ` : ''}` +
          'or set SLUICE_SECRET_KEY to it), or the connections answer SECRET_UNREADABLE until saved again\n',
      );
    }
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(`imported ${summary.rows} rows in ${summary.tables} tables from ${source} into ${summary.target}\n`);
      process.stdout.write(summary.renamedTo ? `renamed ${source} to ${summary.renamedTo}\n` : `kept ${source} (--keep)\n`);
    }
    return 0;
  },
};
