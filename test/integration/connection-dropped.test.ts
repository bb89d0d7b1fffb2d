// A connection the server drops in the middle of a transaction, between two statements (a restart, a failover,
// pg_terminate_backend): the transaction fails, the process lives on, and the pool's next connection works.
// The pool stops listening for a client's errors while it is checked out, and an 'error' event nobody listens to
// ended the whole process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgres } from '../../src/db/postgres.js';
import { createTestStore } from '../helpers/db.js';

test('a connection terminated between two statements of a transaction fails that transaction only', async () => {
  const store = await createTestStore();
  const db = await openPostgres(store.databaseUrl, { max: 2 });
  const other = await store.open();
  try {
    await db.exec('CREATE TABLE dropped_probe (n int)');
    const outcome = db.transaction(async (tx) => {
      await tx.query('INSERT INTO dropped_probe VALUES ($1)', [1]);
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await other.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      // The server's goodbye reaches the idle client now, while no statement of ours is running.
      await new Promise((r) => setTimeout(r, 300));
      await tx.query('INSERT INTO dropped_probe VALUES ($1)', [2]);
    });
    await assert.rejects(outcome);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM dropped_probe');
    assert.equal(rows[0]!.n, 0, 'nothing of the transaction was committed');
    await db.transaction(async (tx) => void (await tx.query('INSERT INTO dropped_probe VALUES ($1)', [3])));
    assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM dropped_probe')).rows[0]!.n, 1, 'the pool works on');
  } finally {
    await other.close();
    await db.close();
    await store.drop();
  }
});
