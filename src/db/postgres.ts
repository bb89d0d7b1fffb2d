// The one adapter, for both modes (the embedded server and DATABASE_URL): a node-postgres pool. Connection
// problems surface as StoreUnavailableError quickly (short connect timeout) so an inbound webhook gets its 503
// while the provider is still waiting, not after.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { PLANNED_PER_CALL, type Db, type Queryable, type QueryResult } from './port.js';
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

// Prepared statements: a query with parameters is parsed and analysed once per connection instead of on every
// call, and after a few runs PostgreSQL keeps a generic plan for it, so a projection statement is neither parsed
// nor planned again (planning was a fifth of the projection's server time when every call was planned). Names
// are derived from the text, so one text is one statement on every connection. Our SQL texts are a bounded set
// (parameters are never spliced in); past MAX_NAMED distinct texts further ones simply run unnamed.
// Parameterless texts keep the simple protocol, which also allows several statements in one text.
//
// A text with optional filters (`$2::text IS NULL OR type = $2`, the list and search queries) runs unnamed:
// an unnamed statement is planned for each call's values, so a filter that is absent costs nothing and one that
// is present can use its index; a single generic plan would have to serve both. So does a text marked
// PLANNED_PER_CALL, whose best index depends on its values in other ways.
const MAX_NAMED = 2_000;
const OPTIONAL_FILTER = /\$\d+::\w+ IS NULL/;
const names = new Map<string, string>();
/** Texts planned per call: optional filters, and statements that went stale. */
const unnamed = new Set<string>();
function statementName(sql: string): string | undefined {
  if (unnamed.has(sql)) return undefined;
  let name = names.get(sql);
  if (name === undefined) {
    if (OPTIONAL_FILTER.test(sql) || sql.includes(PLANNED_PER_CALL)) {
      unnamed.add(sql);
      return undefined;
    }
    if (names.size >= MAX_NAMED) return undefined;
    name = `sluice_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    names.set(sql, name);
  }
  return name;
}

// A statement prepared before its table changed shape (`sluice migrate` beside a running server) is refused by
// the server on every later run on that connection. Its text then runs unnamed for good; outside a
// transaction the call is retried at once, inside one the transaction has failed and its caller retries it.
const STALE_PLAN = /cached plan must not change result type/;

/** One statement: prepared under a name when it has parameters (see statementName), its errors classified. */
async function run<T>(client: Client, sql: string, params: readonly unknown[]): Promise<QueryResult<T>> {
  const values = params as unknown[];
  try {
    const name = values.length > 0 ? statementName(sql) : undefined;
    let res: pg.QueryResult;
    try {
      res = name ? await client.query({ name, text: sql, values }) : await client.query(sql, values);
    } catch (err) {
      if (!name || !STALE_PLAN.test((err as Error).message ?? '')) throw err;
      unnamed.add(sql);
      if (!(client instanceof pg.Pool)) throw err;
      res = await client.query(sql, values);
    }
    return { rows: res.rows as T[], rowCount: res.rowCount ?? res.rows.length };
  } catch (err) {
    throw classifyDbError(err);
  }
}

async function runScript(client: Client, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (err) {
    throw classifyDbError(err);
  }
}

/** The pool: each statement on whichever connection is free. */
function wrapPool(pool: pg.Pool): Queryable {
  return {
    query: <T>(sql: string, params: readonly unknown[] = []) => run<T>(pool, sql, params),
    exec: (sql) => runScript(pool, sql),
  };
}

/**
 * A transaction's connection, its statements sent one at a time: a batch of events runs its projections side by
 * side in one transaction (services/processing/process-batch.ts). node-postgres would queue them itself, but
 * calling a client while it runs a query is deprecated (pg 9 refuses it).
 */
function wrapTransaction(client: pg.PoolClient): Queryable {
  let tail: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const turn = tail.then(work);
    tail = turn.catch(() => undefined);
    return turn;
  };
  return {
    query: <T>(sql: string, params: readonly unknown[] = []) => inTurn(() => run<T>(client, sql, params)),
    exec: (sql) => inTurn(() => runScript(client, sql)),
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
  // Every client, from its creation: the pool listens only while a client is idle, and a server that goes away while
  // a client connects or is checked out would otherwise end the process with an unheard 'error' event. The next
  // statement on that client fails instead (see transaction).
  pool.on('connect', (client) => client.on('error', () => {}));
  const root = wrapPool(pool);
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
      // The pool listens for a client's errors only while it is idle. Checked out here, a connection the server
      // drops between two statements (a restart, a failover, pg_terminate_backend) emits 'error' with no query to
      // take it, and an 'error' event nobody listens to ends the process. Held, it fails the next statement (and
      // the transaction) instead; the connection is then destroyed, not pooled.
      const onError = (err: Error) => (broken ??= err);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(wrapTransaction(client));
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
        client.off('error', onError);
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
