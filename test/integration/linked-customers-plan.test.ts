// Every processed batch asks which customers its events linked (the debounced parity check). On a fresh database
// the first batches ask while customer_events is nearly empty: a generic plan made then is a sequential scan, and a
// prepared statement kept it while the table grew, until autovacuum next analysed the table (in the projection
// profile: 3.5-5.5 ms a batch of 100 events instead of 0.25 to 0.4, `= ANY` testing each row against every id;
// auto_explain showed the generic plan). The statement is planned for each call instead, so it is never kept
// prepared on the connection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { openPostgres } from '../../src/db/postgres.js';
import { customersLinkedToEvents } from '../../src/db/queries/parity-state.js';
import { createTestStore } from '../helpers/db.js';

test('the customers linked to a batch: found right, and the statement is planned for each call', async () => {
  const store = await createTestStore();
  const db = await openPostgres(store.databaseUrl, { max: 1 }); // one connection: a prepared statement would stay on it
  try {
    await migrate(db);
    await db.exec(`
      INSERT INTO workspaces (id, name) VALUES ('ws_plan', 'Plan');
      INSERT INTO customers (id, workspace_id, provider, provider_id)
      SELECT 'cus_' || g, 'ws_plan', 'stripe', 'cus_p' || g FROM generate_series(1, 20) g;
      INSERT INTO events (id, workspace_id, provider, provider_event_id, type, raw_body, status)
      SELECT 'ev_' || lpad(g::text, 4, '0'), 'ws_plan', 'stripe', 'evt_' || g, 'customer.updated', '{}', 'processed'
      FROM generate_series(1, 400) g;
      INSERT INTO customer_events (customer_id, event_id)
      SELECT 'cus_' || (1 + g % 20), 'ev_' || lpad(g::text, 4, '0') FROM generate_series(1, 400) g;
      -- an event linked to two customers
      INSERT INTO customer_events (customer_id, event_id) VALUES ('cus_20', 'ev_0001');`);
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `ev_${String(from + i).padStart(4, '0')}`);

    // More calls than PostgreSQL's plan cache needs to settle on a generic plan (five).
    for (let i = 0; i < 8; i++) {
      const found = await customersLinkedToEvents(db, ids(2 + i * 10, 10));
      assert.equal(found.length, 10, 'ten events of ten consecutive customers');
    }
    assert.deepEqual((await customersLinkedToEvents(db, ['ev_0001'])).sort(), ['cus_2', 'cus_20']);
    assert.deepEqual(await customersLinkedToEvents(db, ['ev_9999']), []);
    assert.deepEqual(await customersLinkedToEvents(db, []), []);

    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%FROM customer_events WHERE event_id = ANY%'`,
    );
    assert.equal(rows[0]!.n, 0, 'kept as a prepared statement, it would run its first generic plan for good');
  } finally {
    await db.close();
    await store.drop();
  }
});
