// Each test gets its own database: a fresh schema on the shared server, search_path pinned through the
// connection string so the code under test needs no schema option. The server is DATABASE_URL's when set;
// otherwise the embedded PostgreSQL that `npm test` starts for the run (SLUICE_TEST_EMBEDDED_URL). A spawned
// `sluice` process gets the store's env: on DATABASE_URL the same schema; on the embedded leg only its own
// SLUICE_DATA_DIR, so it initialises and runs its own embedded server, the path a user's `npm start` takes.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { readPostmasterPid, stopPostmaster } from '../../src/db/embedded/server.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import type { Db, Queryable } from '../../src/db/port.js';
import { openPostgres } from '../../src/db/postgres.js';

export const usingPostgres = Boolean(process.env.DATABASE_URL);

export interface TestStore {
  /** Environment that points a spawned sluice process at this store. */
  env: Record<string, string>;
  /** The spawned processes' data dir (their embedded server, or just the master key on PostgreSQL). */
  dataDir: string;
  /** The in-process database: this store's schema on the shared server. */
  databaseUrl: string;
  open(): Promise<Db>;
  drop(): Promise<void>;
}

export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

function sharedServerUrl(): string {
  const url = process.env.DATABASE_URL ?? process.env.SLUICE_TEST_EMBEDDED_URL;
  if (!url) {
    throw new Error('no test database: run the tests with `npm test` (it starts the embedded PostgreSQL), or set DATABASE_URL');
  }
  return url;
}

/** A server a spawned process left running (killed with SIGKILL, so it could not stop it). */
async function stopOrphan(dataDir: string): Promise<void> {
  const cluster = path.join(dataDir, 'postgres');
  if (!existsSync(cluster)) return;
  const running = readPostmasterPid(cluster);
  if (running) await stopPostmaster(running.pid, 20_000);
}

export async function createTestStore(): Promise<TestStore> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-test-'));
  const base = sharedServerUrl();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const databaseUrl = withSearchPath(base, schema);
  return {
    env: usingPostgres ? { SLUICE_DATA_DIR: dataDir, DATABASE_URL: databaseUrl } : { SLUICE_DATA_DIR: dataDir },
    dataDir,
    databaseUrl,
    open: () => openPostgres(databaseUrl, { kind: usingPostgres ? 'postgres' : 'embedded' }),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
      if (!usingPostgres) await stopOrphan(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function openMigrated(store: TestStore): Promise<Db> {
  const db = await store.open();
  await migrate(db);
  return db;
}

/**
 * A migration's test: `fn` gets a database migrated up to (not including) `version`, writes rows as the former
 * schema had them, then calls `finish()` to run the rest of the migrations over them. The store is dropped after.
 */
export async function withMigratedBefore(version: number, fn: (db: Db, finish: () => Promise<void>) => Promise<void>): Promise<void> {
  const store = await createTestStore();
  const db = await store.open();
  try {
    const all = loadMigrations();
    await migrate(
      db,
      all.filter((m) => m.version < version),
    );
    await fn(db, async () => {
      await migrate(db, all);
    });
  } finally {
    await db.close();
    await store.drop();
  }
}

/** A statement and its parameters as a query sent them. */
export interface SentStatement {
  sql: string;
  params: readonly unknown[];
}

/**
 * `db` whose transactions remember the last statement containing `marker` (a claim's, to EXPLAIN it afterwards
 * with the same text and values).
 */
export function watchingTransactions(db: Db, marker: string): { db: Db; last(): SentStatement | undefined } {
  let sent: SentStatement | undefined;
  const watched: Db = {
    ...db,
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          exec: (sql) => tx.exec(sql),
          query: (sql, params) => {
            if (sql.includes(marker)) sent = { sql, params: params ?? [] };
            return tx.query(sql, params);
          },
        } satisfies Queryable),
      ),
  };
  return { db: watched, last: () => sent };
}
