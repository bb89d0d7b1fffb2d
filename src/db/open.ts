import path from 'node:path';
import type { Config } from '../config.js';
import { openPglite } from './pglite.js';
import type { Db } from './port.js';
import { openPostgres } from './postgres.js';

/** The configured database: PostgreSQL when DATABASE_URL is set, else PGlite files under the data dir. */
export async function openDb(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Db> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl);
  return openPglite(path.join(config.dataDir, 'pgdata'));
}
