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

/**
 * Seeds a fresh database with `seed`, runs `claim` eight times (more than the five custom plans PostgreSQL tries
 * before it may settle on a generic one) on a pool of one connection, so that the connection's prepared statements
 * are the ones the claims used, and answers the ids claimed and the plans of the statement whose text holds both
 * `marks`.
 */
async function claimEightTimes(
  seed: string,
  claim: (db: Db) => Promise<{ id: string }[]>,
  marks: [string, string],
): Promise<{ claimed: string[]; plans: { generic: number; custom: number }[] }> {
  const store = await createTestStore();
  const setup = await openMigrated(store);
  const db = await openPostgres(store.databaseUrl, { max: 1, kind: usingPostgres ? 'postgres' : 'embedded' });
  try {
    await setup.exec(seed);
    const claimed: string[] = [];
    for (let i = 0; i < 8; i++) claimed.push(...(await claim(db)).map((r) => r.id));
    const { rows: plans } = await db.query<{ generic: number; custom: number }>(
      `SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements
       WHERE statement LIKE '%' || $1 || '%' AND statement LIKE '%' || $2 || '%'`,
      marks,
    );
    return { claimed, plans };
  } finally {
    await db.close();
    await setup.close();
    await store.drop();
  }
}

test('the delivery claim is planned once per connection, not once per claim', async () => {
  const { claimed, plans } = await claimEightTimes(
    `INSERT INTO workspaces (id, name) VALUES ('ws_plan', 'Plan');
     INSERT INTO endpoints (id, workspace_id, url, secrets_sealed) VALUES ('ep_plan', 'ws_plan', 'https://example.com/hook', 'x');
     INSERT INTO messages (id, workspace_id, type, data, dedupe_key)
     SELECT 'msg_' || g, 'ws_plan', 'bench.tick', '{}', 'custom:' || g FROM generate_series(1, 20) g;
     INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id)
     SELECT 'dl_' || g, 'ws_plan', 'ep_plan', 'msg_' || g FROM generate_series(1, 20) g;`,
    (db) => claimDueDeliveries(db, { workerId: 'w_plan', limit: 2, perEndpoint: 20, leaseSeconds: 60 }),
    ['WITH candidates AS', 'UPDATE deliveries'],
  );
  assert.equal(claimed.length, 16, 'each claim took its two deliveries');
  assert.equal(new Set(claimed).size, 16, 'no delivery claimed twice');
  assert.deepEqual(plans, [{ generic: 8, custom: 0 }], 'one prepared statement, its generic plan every time');
});

test('the event claim is planned once per connection, not once per claim', async () => {
  // Events of 20 different customers, so that no claim waits for another's serial key.
  const { claimed, plans } = await claimEightTimes(
    `INSERT INTO workspaces (id, name) VALUES ('ws_plan', 'Plan');
     INSERT INTO events (id, workspace_id, provider, provider_event_id, type, payload, raw_body)
     SELECT 'ev_' || g, 'ws_plan', 'stripe', 'evt_' || g, 'customer.created',
            ('{"data":{"object":{"id":"cus_' || g || '","object":"customer"}}}')::jsonb, '{}'
     FROM generate_series(1, 20) g;`,
    (db) => claimDueEvents(db, 'w_plan', 2, 60),
    ['WITH locked AS', 'INSERT INTO event_leases'],
  );
  assert.equal(claimed.length, 16, 'each claim took its two events');
  assert.equal(new Set(claimed).size, 16, 'no event claimed twice');
  assert.deepEqual(plans, [{ generic: 8, custom: 0 }], 'one prepared statement, its generic plan every time');
});
