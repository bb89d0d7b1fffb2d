// The driver port: the rest of Sluice talks to PostgreSQL through this interface only, whether it is the
// embedded server Sluice runs in its data dir or one named by DATABASE_URL (node-postgres in both cases).

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/**
 * A comment that has a text planned for each call's values rather than once for all (postgres.ts): for a query
 * whose best index depends on its values, where one generic plan would serve some of them badly.
 */
export const PLANNED_PER_CALL = '/* planned per call */';

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  /** 'embedded': the server Sluice runs under its data dir; 'postgres': the one DATABASE_URL names; 'pglite': an
   *  old PGlite data dir opened only as the source of the one-time import, never as Sluice's database. */
  readonly kind: 'embedded' | 'postgres' | 'pglite';
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
