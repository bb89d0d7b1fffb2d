// The delivery claim runs with its prepared statement's generic plan: left to PostgreSQL's default, the statement was
// planned again for every execution (about 1 ms of a 3 ms claim), the plan coming out the same each time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimDueDeliveries } from '../../src/db/queries/deliveries.js';
import { openPostgres } from '../../src/db/postgres.js';
import { createTestStore, openMigrated, usingPostgres } from '../helpers/db.js';

test('the delivery claim is planned once per connection, not once per claim', async () => {
  const store = await createTestStore();
  const setup = await openMigrated(store);
  // One connection, so that its prepared statements are the ones the claims used.
  const db = await openPostgres(store.databaseUrl, { max: 1, kind: usingPostgres ? 'postgres' : 'embedded' });
  try {
    await setup.exec(`
      INSERT INTO workspaces (id, name) VALUES ('ws_plan', 'Plan');
      INSERT INTO endpoints (id, workspace_id, url, secrets_sealed) VALUES ('ep_plan', 'ws_plan', 'https://example.com/hook', 'x');
      INSERT INTO messages (id, workspace_id, type, data, dedupe_key)
      SELECT 'msg_' || g, 'ws_plan', 'bench.tick', '{}', 'custom:' || g FROM generate_series(1, 20) g;
      INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id)
      SELECT 'dl_' || g, 'ws_plan', 'ep_plan', 'msg_' || g FROM generate_series(1, 20) g;`);
    const claimed: string[] = [];
    // More executions than the five custom plans PostgreSQL tries before it may settle on a generic one.
    for (let i = 0; i < 8; i++) {
      const batch = await claimDueDeliveries(db, { workerId: 'w_plan', limit: 2, perEndpoint: 20, leaseSeconds: 60 });
      claimed.push(...batch.map((d) => d.id));
    }
    assert.equal(claimed.length, 16, 'each claim took its two deliveries');
    assert.equal(new Set(claimed).size, 16, 'no delivery claimed twice');
    const { rows } = await db.query<{ generic: number; custom: number }>(
      `SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements
       WHERE statement LIKE '%WITH candidates AS%' AND statement LIKE '%UPDATE deliveries%'`,
    );
    assert.equal(rows.length, 1, 'the claim is a prepared statement of this connection');
    assert.deepEqual(rows[0], { generic: 8, custom: 0 });
  } finally {
    await db.close();
    await setup.close();
    await store.drop();
  }
});
