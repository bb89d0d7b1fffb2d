// A burst of deliveries into a table whose statistics predate it (autovacuum had not analysed it yet, and the
// sender refreshes them at most every few seconds): the claim's generic plan must still lock each candidate through
// its primary key. With the due test in the lock's scan, the planner, believing no delivery was pending, read the
// partial index of pending deliveries whole for every candidate (43,000 buffers for this test's claim on PostgreSQL 15;
// 18 chose the key here either way): the benchmark's deliveries ran at 500/s for their
// first second instead of 5,000.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimDueDeliveries } from '../../src/db/queries/deliveries.js';
import { createTestStore, openMigrated, watchingTransactions } from '../helpers/db.js';

test('the delivery claim locks its candidates by key when the statistics predate a burst', async () => {
  const store = await createTestStore();
  const db = await openMigrated(store);
  try {
    await db.exec(`
      INSERT INTO workspaces (id, name) VALUES ('ws_burst', 'Burst');
      INSERT INTO endpoints (id, workspace_id, url, secrets_sealed)
      SELECT 'ep_' || e, 'ws_burst', 'https://example.com/' || e, 'x' FROM generate_series(1, 4) e;
      INSERT INTO messages (id, workspace_id, type, data, dedupe_key)
      SELECT 'msg_' || g, 'ws_burst', 'bench.tick', '{}', 'custom:' || g FROM generate_series(1, 3000) g;
      -- what the table held when it was last analysed: deliveries already made
      INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id, status, finished_at)
      SELECT 'dl_' || lpad(g::text, 6, '0'), 'ws_burst', 'ep_' || (1 + g % 4), 'msg_' || ((g + 3) / 4), 'succeeded', now()
      FROM generate_series(1, 2000) g;
      ANALYZE deliveries;
      -- the burst, not analysed
      INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id)
      SELECT 'dl_' || lpad(g::text, 6, '0'), 'ws_burst', 'ep_' || (1 + g % 4), 'msg_' || ((g + 3) / 4)
      FROM generate_series(2001, 12000) g;`);

    // The statement the claim sends, and its generic plan's work (the claim runs with force_generic_plan).
    const { db: watching, last } = watchingTransactions(db, 'WITH candidates');
    const claimed = await claimDueDeliveries(watching, { workerId: 'w_a', limit: 128, perEndpoint: 20, leaseSeconds: 60 });
    assert.equal(claimed.length, 80, '20 for each of the 4 endpoints');
    assert.equal(new Set(claimed.map((d) => d.id)).size, 80);
    for (const d of claimed) assert.ok(d.id >= 'dl_002001', `a pending delivery, not ${d.id}`);

    const plan = await db.transaction(async (tx) => {
      await tx.exec(`SET LOCAL plan_cache_mode = force_generic_plan`);
      await tx.exec(`PREPARE burst_claim AS ${last()!.sql}`);
      const { rows } = await tx.query<{ 'QUERY PLAN': [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }] }>(
        // A utility statement takes no bound parameters: the claim's values, as literals (40 per endpoint: the first
        // sender holds 20 of each).
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE burst_claim('w_b', 128, 40, '{}', 60)`,
      );
      await tx.exec('DEALLOCATE burst_claim');
      return rows[0]!['QUERY PLAN'][0].Plan;
    });
    const buffers = plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
    // About 600 here (80 rows locked and updated through their keys); the walk of the pending deliveries' index for
    // every candidate read about 38,000, a number that grows with the burst.
    assert.ok(buffers < 3000, `the second claim read ${buffers} buffers`);

    // EXPLAIN ANALYZE ran that claim for a second sender: it took 80 more, none of the first's.
    const { rows } = await db.query<{ sender: string; n: number }>(
      `SELECT locked_by AS sender, count(*)::int AS n FROM deliveries WHERE locked_by IS NOT NULL GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(rows, [
      { sender: 'w_a', n: 80 },
      { sender: 'w_b', n: 80 },
    ]);
  } finally {
    await db.close();
    await store.drop();
  }
});
