// The one adapter, for both modes (the embedded server and DATABASE_URL): a node-postgres pool. Connection
// problems surface as StoreUnavailableError quickly (short connect timeout) so an inbound webhook gets its 503
// while the provider is still waiting, not after.
import pg from 'pg';
import type { Db, Queryable, QueryResult } from './port.js';
import { classifyDbError } from './store-errors.js';

type Client = pg.Pool | pg.PoolClient;

// bigint (int8) columns hold amounts in minor units: read them as numbers (as the API has always answered
// them). Amounts stay far below 2^53.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function wrap(client: Client): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<T>> {
      try {
        const res = await client.query(sql, params as unknown[]);
        return { rows: res.rows as T[], rowCount: res.rowCount ?? res.rows.length };
      } catch (err) {
        throw classifyDbError(err);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql);
      } catch (err) {
        throw classifyDbError(err);
      }
    },
  };
}

export interface PostgresOptions {
  max?: number;
  /** 'embedded' when the server is the one Sluice runs in its data dir. */
  kind?: Db['kind'];
  /** Runs after the pool has ended (the embedded server is stopped there, when nobody else uses it). */
  afterClose?: () => Promise<void>;
}

/** A server named by a URL (DATABASE_URL), or by parts (the embedded server's Unix socket and password). */
export type PostgresTarget = string | { host: string; port: number; user: string; password: string; database: string };

export async function openPostgres(target: PostgresTarget, options: PostgresOptions = {}): Promise<Db> {
  const pool = new pg.Pool({
    types,
    ...(typeof target === 'string' ? { connectionString: target } : target),
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A stuck statement must not hold a webhook answer for ever; providers time out after ~10-30 s.
    statement_timeout: 30_000,
  });
  // An idle client losing its connection (server restart) is reported here; without a listener Node
  // would crash the process. The next query gets a fresh connection or a StoreUnavailableError.
  pool.on('error', () => {});
  const root = wrap(pool);
  let closed = false;
  return {
    kind: options.kind ?? 'postgres',
    query: root.query,
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw classifyDbError(err);
      }
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error; // the connection is unusable: destroy it instead of pooling it
        }
        throw classifyDbError(err);
      } finally {
        client.release(broken);
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
        await pool.end();
      } finally {
        await options.afterClose?.();
      }
    },
  };
}
