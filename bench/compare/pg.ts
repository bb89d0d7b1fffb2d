// A fresh database per system on the local PostgreSQL server (BENCH_DATABASE_URL, default the test server),
// dropped by cleanup even when the run fails.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { onCleanup } from './children.js';

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function adminQuery<T extends pg.QueryResultRow = any>(sql: string, url = ADMIN_URL): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  // A Ctrl-C drops the run's databases WITH (FORCE) while the run may still be querying one of them: the server
  // ends that session, and without a listener the 'error' event would crash the harness mid-cleanup (exit 1
  // instead of 130). The failure still reaches the caller through the query or the connect.
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Creates `bench_<label>_<random>` and returns its URL; it is dropped (connections and all) at cleanup. */
export async function freshDatabase(label: string): Promise<string> {
  const name = `bench_${label}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  onCleanup(() => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined));
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function serverVersion(): Promise<string> {
  const [row] = await adminQuery<{ server_version: string }>('SHOW server_version');
  return row?.server_version ?? 'unknown';
}
