import type { Config } from '../config.js';
import { isAlive } from './embedded/server.js';
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
  // Twice at most: a server found running can be stopped by its last other user between our finding it and our
  // pool's first session (that user counted no session of ours yet). Then it is gone, and we start our own.
  for (let attempt = 1; ; attempt++) {
    const server = await startEmbeddedServer({
      dataDir: config.dataDir,
      osUser: config.embeddedDbUser,
      onEvent: (msg, fields) => log?.info(fields, msg),
    });
    let db: Db | undefined;
    try {
      db = await openPostgres(server.connection, {
        kind: 'embedded',
        max: 10,
        afterClose: async () => {
          await server.release();
        },
      });
      // A pooled session now stands for this process among the server's users (idle, it stays 30 s).
      await db.ping();
      return db;
    } catch (err) {
      const stoppedUnderUs = !isAlive(server.pid);
      if (db) await db.close().catch(() => {});
      else await server.release();
      if (!stoppedUnderUs || attempt === 2) throw err;
      log?.info({ pid: server.pid }, 'the embedded PostgreSQL server stopped as we joined it; starting it again');
    }
  }
}
