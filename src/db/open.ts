import type { Config } from '../config.js';
import { startEmbeddedServer } from './embedded/supervisor.js';
import type { Db } from './port.js';
import { openPostgres } from './postgres.js';

export interface OpenLog {
  info(fields: Record<string, unknown>, msg: string): void;
}

/** The configured database: the server DATABASE_URL names, else the embedded PostgreSQL server under the data
 *  dir (started, or reused when already running; stopped on close unless other sessions still use it). */
export async function openDb(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'embeddedDbUser'>, log?: OpenLog): Promise<Db> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl);
  // The server cannot stop under us from here on: we are one of its members (see joinServer).
  const server = await startEmbeddedServer({
    dataDir: config.dataDir,
    osUser: config.embeddedDbUser,
    onEvent: (msg, fields) => log?.info(fields, msg),
  });
  try {
    return await openPostgres(server.connection, {
      kind: 'embedded',
      max: 10,
      afterClose: async () => {
        await server.release();
      },
    });
  } catch (err) {
    await server.release();
    throw err;
  }
}
