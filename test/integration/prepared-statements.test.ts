// The adapter prepares every parameterised query once per connection. A table that changes shape under a
// prepared statement (a migration run beside a live server) must not break that query for good.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { openPostgres } from '../../src/db/postgres.js';
import { listEvents } from '../../src/db/queries/events.js';
import { createTestStore } from '../helpers/db.js';

test('a query prepared before its table gained a column keeps working and sees the column', async () => {
  const store = await createTestStore();
  const db = await openPostgres(store.databaseUrl, { max: 1 }); // one connection: every call reuses its statements
  const other = await store.open(); // the "migration", from another process's connection
  try {
    await db.exec('CREATE TABLE prep_probe (id int PRIMARY KEY, v text); INSERT INTO prep_probe VALUES (1, $$a$$)');
    const outside = 'SELECT * FROM prep_probe WHERE id = $1';
    const inside = 'SELECT *, 1 AS inside FROM prep_probe WHERE id = $1';
    // Prepared on that connection, outside and inside a transaction.
    assert.deepEqual((await db.query(outside, [1])).rows, [{ id: 1, v: 'a' }]);
    await db.transaction(async (tx) => void (await tx.query(inside, [1])));
    await other.exec('ALTER TABLE prep_probe ADD COLUMN w text DEFAULT $$b$$');

    // Inside a transaction: that transaction fails (it is aborted), the next one runs the text unnamed.
    await assert.rejects(
      db.transaction((tx) => tx.query(inside, [1])),
      /cached plan must not change result type/,
    );
    const again = await db.transaction((tx) => tx.query(inside, [1]));
    assert.deepEqual(again.rows, [{ id: 1, v: 'a', w: 'b', inside: 1 }]);
    // Outside one: retried at once.
    assert.deepEqual((await db.query(outside, [1])).rows, [{ id: 1, v: 'a', w: 'b' }]);

    const plan = await db.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode');
    assert.equal(plan.rows[0]!.plan_cache_mode, 'auto', 'prepared statements may keep a generic plan');
  } finally {
    await other.close();
    await db.close();
    await store.drop();
  }
});

test('texts with optional filters are planned for each call; the others are prepared once', async () => {
  const store = await createTestStore();
  const db = await openPostgres(store.databaseUrl, { max: 1 });
  try {
    await db.exec('CREATE TABLE plan_probe (id int PRIMARY KEY, kind text); INSERT INTO plan_probe VALUES (1, $$a$$), (2, $$b$$)');
    const optional = 'SELECT id FROM plan_probe WHERE ($1::text IS NULL OR kind = $1) ORDER BY id';
    const fixed = 'SELECT id FROM plan_probe WHERE kind = $1 ORDER BY id';
    for (let i = 0; i < 8; i++) {
      assert.deepEqual((await db.query(optional, [null])).rows, [{ id: 1 }, { id: 2 }]);
      assert.deepEqual((await db.query(optional, ['b'])).rows, [{ id: 2 }]);
      assert.deepEqual((await db.query(fixed, ['a'])).rows, [{ id: 1 }]);
    }
    const prepared = await db.query<{ statement: string }>(
      `SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%plan_probe%'`,
    );
    assert.deepEqual(
      prepared.rows.map((r) => r.statement),
      [fixed],
      'only the text without optional filters is a named statement on the connection',
    );
  } finally {
    await db.close();
    await store.drop();
  }
});

test('the events list is planned for each call: its best index depends on how far back it reaches', async () => {
  const store = await createTestStore();
  const db = await openPostgres(store.databaseUrl, { max: 1 });
  try {
    await migrate(db);
    const since = new Date(Date.now() - 7 * 86_400_000);
    // More runs than PostgreSQL's five custom plans before it may settle on a generic one.
    for (let i = 0; i < 8; i++) {
      await listEvents(db, { workspaceId: 'ws_probe', since, status: 'failed', limit: 50 });
      await listEvents(db, { workspaceId: 'ws_probe', limit: 500, before: 'ev_zzzz' });
    }
    const prepared = await db.query<{ statement: string }>(
      `SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%FROM events%'`,
    );
    assert.deepEqual(prepared.rows, [], 'no list text is a named statement with a cached plan');
    const direct = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE workspace_id = $1`, ['ws_probe']);
    assert.equal(direct.rows[0]!.n, 0);
    assert.equal(
      (await db.query(`SELECT 1 FROM pg_prepared_statements WHERE statement LIKE '%FROM events WHERE workspace_id = $1%'`)).rowCount,
      1,
      'other texts are still prepared',
    );
  } finally {
    await db.close();
    await store.drop();
  }
});
