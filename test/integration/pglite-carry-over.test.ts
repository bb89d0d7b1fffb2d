// First start over a data dir of an earlier release: the PGlite database is imported into the new cluster once,
// then kept as pgdata.pglite-imported. An import interrupted half way is redone from an empty database, never
// doubled. (The importer itself is tested with its module; here it is stood in for to interrupt it at will.)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { carryOverPglite } from '../../src/db/embedded/carry-over.js';
import type { Db } from '../../src/db/port.js';
import { createTestStore, openMigrated } from '../helpers/db.js';

test('an interrupted PGlite import is redone from a clean database; a finished one is kept as a backup', async () => {
  const store = await createTestStore();
  const db = await openMigrated(store);
  const log = pino({ level: 'silent' });
  try {
    const pgdata = path.join(store.dataDir, 'pgdata');
    mkdirSync(pgdata);
    writeFileSync(path.join(pgdata, 'PG_VERSION'), '17\n');
    let n = 0;
    const copyOneWorkspace = async (_dir: string, target: Db) => {
      n += 1;
      await target.query('INSERT INTO workspaces (id, name) VALUES ($1, $2)', [`ws_imported_${n}`, 'Imported']);
      return { tables: 1, rows: 1 };
    };

    await assert.rejects(
      carryOverPglite(db, store.dataDir, log, async (dir, target) => {
        await copyOneWorkspace(dir, target);
        throw new Error('power cut');
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PGLITE_IMPORT_FAILED');
        assert.match(err.message, /power cut/);
        assert.match(err.message, /Nothing was removed/);
        // Starting again is no advice when the import fails every time: how to go on without losing the old data is.
        assert.match(err.message, /If it fails the same way on every start, starting again will not help/);
        assert.ok(err.message.includes(`mv ${pgdata} ${pgdata}.not-imported`), err.message);
        assert.ok(err.message.includes(`sluice migrate-data --from ${pgdata}.not-imported`), err.message);
        assert.match(err.message, /only copy/);
        return true;
      },
    );
    assert.ok(existsSync(path.join(pgdata, 'PG_VERSION')), 'the PGlite files are untouched');

    assert.equal(await carryOverPglite(db, store.dataDir, log, copyOneWorkspace), true);
    const rows = await db.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'Imported'");
    assert.deepEqual(
      rows.rows.map((r) => r.id),
      ['ws_imported_2'],
      'the half import was discarded before the import ran again',
    );
    assert.equal(existsSync(pgdata), false);
    assert.ok(existsSync(path.join(store.dataDir, 'pgdata.pglite-imported', 'PG_VERSION')), 'kept as a backup');
    assert.equal(existsSync(path.join(store.dataDir, 'pglite-import.started')), false);

    assert.equal(await carryOverPglite(db, store.dataDir, log, copyOneWorkspace), false, 'nothing left to import');
    assert.equal(n, 2);
  } finally {
    await db.close();
    await store.drop();
  }
});
