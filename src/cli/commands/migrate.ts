import { loadConfig } from '../../config.js';
import { openDb } from '../../db/open.js';
import { migrate } from '../../db/migrate.js';
import { acquireDataDirLock } from '../../lib/data-dir-lock.js';
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
    // Embedded: refuses (with the holder's pid) while a server has the dir open; the server migrated at start.
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
