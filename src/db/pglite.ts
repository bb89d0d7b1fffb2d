// PGlite, the embedded database of earlier releases (in-process, one connection, fsync off). No longer a
// runtime database: kept only to read an old <dataDir>/pgdata once, when its data is carried over into the
// embedded PostgreSQL server (db/pglite-import.ts).
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import { ensurePrivateDir, holdPrivateUmask } from '../lib/private-files.js';
import type { Db, Queryable, QueryResult } from './port.js';
import { classifyDbError } from './store-errors.js';

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<T>> {
      try {
        const res = await target.query<T>(sql, params as unknown[]);
        return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
      } catch (err) {
        throw classifyDbError(err);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await target.exec(sql);
      } catch (err) {
        throw classifyDbError(err);
      }
    },
  };
}

/** dataDir undefined = in memory (tests of pure SQL only). */
export async function openPglite(dataDir: string | undefined): Promise<Db> {
  // PGlite keeps creating files (WAL segments, new relations) while open, so the umask is held until close.
  const releaseUmask = dataDir === undefined ? () => {} : holdPrivateUmask();
  let pg: PGlite;
  try {
    if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    pg = await PGlite.create(dataDir);
    // A new cluster is unpacked from PGlite's template with explicit 0666 modes that no umask can narrow.
    if (dataDir !== undefined) ensurePrivateDir(dataDir);
  } catch (err) {
    releaseUmask();
    throw err;
  }
  const root = wrap(pg);
  let closed = false;
  return {
    kind: 'pglite',
    query: root.query,
    async transaction(fn) {
      try {
        return await pg.transaction((tx) => fn(wrap(tx)));
      } catch (err) {
        throw classifyDbError(err);
      }
    },
    exec: root.exec,
    async ping() {
      await root.query('SELECT 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await pg.close();
      } finally {
        releaseUmask();
      }
    },
  };
}
