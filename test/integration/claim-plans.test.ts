// The queue claims run with their prepared statement's generic plan: left to PostgreSQL's default, each statement was
// planned again for every execution (about 1 ms of a delivery claim of 3 ms, 0.8 ms of an event claim), the plan
// coming out the same each time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimDueDeliveries } from '../../src/db/queries/deliveries.js';
import { claimDueEvents } from '../../src/db/queries/events.js';
import type { Db } from '../../src/db/port.js';
import { openPostgres } from '../../src/db/postgres.js';
import { createTestStore, openMigrated, usingPostgres } from '../helpers/db.js';

/** The generic and custom plans the one connection of `db` used for its prepared statements matching both patterns. */
async function plansOf(db: Db, a: string, b: string): Promise<{ generic: number; custom: number }[]> {
  const { rows } = await db.query<{ generic: number; custom: number }>(
    `SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements
     WHERE statement LIKE '%' || $1 || '%' AND statement LIKE '%' || $2 || '%'`,
    [a, b],
  );
  return rows;
}

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
    const rows = await plansOf(db, 'WITH candidates AS', 'UPDATE deliveries');
    assert.deepEqual(rows[0], { generic: 8, custom: 0 });
  } finally {
    await db.close();
    await setup.close();
    await store.drop();
  }
});

test('the event claim is planned once per connection, not once per claim', async () => {
  const store = await createTestStore();
  const setup = await openMigrated(store);
  const db = await openPostgres(store.databaseUrl, { max: 1, kind: usingPostgres ? 'postgres' : 'embedded' });
  try {
    // Events of 20 different customers, so that no claim waits for another's serial key.
    await setup.exec(`
      INSERT INTO workspaces (id, name) VALUES ('ws_plan', 'Plan');
      INSERT INTO events (id, workspace_id, provider, provider_event_id, type, payload, raw_body)
      SELECT 'ev_' || g, 'ws_plan', 'stripe', 'evt_' || g, 'customer.created',
             ('{"data":{"object":{"id":"cus_' || g || '","object":"customer"}}}')::jsonb, '{}'
      FROM generate_series(1, 20) g;`);
    const claimed: string[] = [];
    for (let i = 0; i < 8; i++) claimed.push(...(await claimDueEvents(db, 'w_plan', 2, 60)).map((e) => e.id));
    assert.equal(claimed.length, 16, 'each claim took its two events');
    assert.equal(new Set(claimed).size, 16, 'no event claimed twice');
    const rows = await plansOf(db, 'WITH locked AS', 'INSERT INTO event_leases');
    assert.equal(rows.length, 1, 'the claim is a prepared statement of this connection');
    assert.deepEqual(rows[0], { generic: 8, custom: 0 });
  } finally {
    await db.close();
    await setup.close();
    await store.drop();
  }
});
