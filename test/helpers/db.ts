// Each test gets its own database: a fresh PGlite dir, or, when DATABASE_URL is set, a fresh schema on that
// server (search_path pinned through the connection string, so the code under test needs no schema option).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import type { Db } from '../../src/db/port.js';
import { openPostgres } from '../../src/db/postgres.js';

export const usingPostgres = Boolean(process.env.DATABASE_URL);

export interface TestStore {
  /** Environment that points a spawned sluice process at this store. */
  env: Record<string, string>;
  /** The embedded data dir, or a scratch dir (master key) when on PostgreSQL. */
  dataDir: string;
  databaseUrl: string | undefined;
  open(): Promise<Db>;
  drop(): Promise<void>;
}

export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export async function createTestStore(): Promise<TestStore> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-test-'));
  if (!usingPostgres) {
    return {
      env: { SLUICE_DATA_DIR: dataDir },
      dataDir,
      databaseUrl: undefined,
      open: () => openPglite(path.join(dataDir, 'pgdata')),
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const base = process.env.DATABASE_URL!;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const databaseUrl = withSearchPath(base, schema);
  return {
    env: { SLUICE_DATA_DIR: dataDir, DATABASE_URL: databaseUrl },
    dataDir,
    databaseUrl,
    open: () => openPostgres(databaseUrl),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function openMigrated(store: TestStore): Promise<Db> {
  const db = await store.open();
  await migrate(db);
  return db;
}
