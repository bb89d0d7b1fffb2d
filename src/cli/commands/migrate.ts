import { loadConfig } from '../../config.js';
import { openDb } from '../../db/open.js';
import { migrate } from '../../db/migrate.js';
import { acquireDataDirLock, DataDirLockedError, readDataDirLock } from '../../lib/data-dir-lock.js';
import { parseOptions, type Command } from '../command.js';

export const migrateCommand: Command = {
  summary: 'apply pending database migrations and exit',
  help: [
    'Usage: sluice migrate',
    '',
    'Applies the numbered migrations to DATABASE_URL, or to the embedded database under $SLUICE_DATA_DIR.',
    '`sluice start` applies them too; this command is for deploy pipelines that migrate first.',
  ].join('\n'),
  async run(args) {
    parseOptions(args, {});
    const config = loadConfig();
    // Embedded: a running server applied every migration it knows when it started. Still a refusal (exit 1,
    // DATA_DIR_LOCKED), as the migrations of a newer version, the usual reason to run this, were not applied.
    const holder = config.databaseUrl ? undefined : readDataDirLock(config.dataDir);
    if (holder?.url) {
      throw new DataDirLockedError(
        config.dataDir,
        holder,
        `the data dir ${config.dataDir} is in use by another sluice process, the server at ${holder.url} (pid ${holder.pid}), ` +
          'which applied its migrations when it started: nothing to do while it runs. A new version applies its own when it ' +
          'starts; to migrate before that, stop the server first',
      );
    }
    // Embedded, held by a process not serving HTTP (still starting, or a worker): refuses with the holder's pid.
    const lock = config.databaseUrl ? undefined : acquireDataDirLock(config.dataDir);
    try {
      const db = await openDb(config);
      try {
        const applied = await migrate(db);
        process.stdout.write(
          applied.length === 0
            ? 'database is up to date\n'
            : applied.map((m) => `applied ${String(m.version).padStart(4, '0')}_${m.name}\n`).join(''),
        );
      } finally {
        await db.close();
      }
    } finally {
      lock?.release();
    }
    return 0;
  },
};
