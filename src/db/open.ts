import type { Config } from '../config.js';
import { startEmbeddedServer } from './embedded/supervisor.js';
import type { Db } from './port.js';
import { openPostgres } from './postgres.js';

export interface OpenLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn?(fields: Record<string, unknown>, msg: string): void;
  error?(fields: Record<string, unknown>, msg: string): void;
}

/** The embedded server is gone for good (it keeps exiting): stop as on a SIGTERM, with a non-zero exit, so that a
 *  service manager starts Sluice, and with it the server, afresh; a person at the terminal sees why. */
function stopForLostServer(log: OpenLog | undefined, reason: string): void {
  if (log?.error) log.error({ reason }, 'stopping: the embedded PostgreSQL server cannot be kept running');
  else process.stderr.write(`sluice: stopping: ${reason}\n`);
  process.exitCode = 1;
  process.kill(process.pid, 'SIGTERM');
}

/**
 * SLUICE_DB_POOL_SIZE when unset. Each event worker holds a connection while its batch runs; the defaults leave room
 * beside them for ingest. Fewer on the embedded server: each connection is a server process of 15-20 MB counted in
 * this machine's memory. Under the benchmark's load, 4 gave the same throughput as 10 (within run-to-run noise), and
 * the default two event workers fit beside ingest in 4: the second runs only while webhooks are not pressing.
 */
export function defaultPoolSize(sharedServer: boolean, eventWorkers: number): number {
  return sharedServer ? Math.max(10, eventWorkers + 3) : Math.max(4, eventWorkers + 2);
}

/** The configured database: the server DATABASE_URL names, else the embedded PostgreSQL server under the data
 *  dir (started, or reused when already running; stopped on close unless other sessions still use it). */
export async function openDb(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'embeddedDbUser'> & Partial<Pick<Config, 'dbPoolSize' | 'eventWorkers'>>,
  log?: OpenLog,
): Promise<Db> {
  const max = config.dbPoolSize ?? defaultPoolSize(Boolean(config.databaseUrl), config.eventWorkers ?? 1);
  if (config.databaseUrl) return openPostgres(config.databaseUrl, { max });
  // The server cannot stop under us from here on: we are one of its members (see joinServer).
  const server = await startEmbeddedServer({
    dataDir: config.dataDir,
    osUser: config.embeddedDbUser,
    onEvent: (msg, fields) => log?.info(fields, msg),
    onTrouble: (msg, fields) => (log?.warn ?? log?.info)?.call(log, fields, msg),
    onLost: (reason) => stopForLostServer(log, reason),
  });
  try {
    return await openPostgres(server.connection, {
      kind: 'embedded',
      max,
      afterClose: async () => {
        await server.release();
      },
    });
  } catch (err) {
    await server.release();
    throw err;
  }
}
