// Delivery claims live in delivery_leases (migration 0040): a claim writes a lease, not the delivery's row; the record
// deletes the lease and writes the attempt's count to the row; the claims held when the migration runs carry over.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { claimDueDeliveries, findDelivery, recordAttempts, releaseAllDeliveryClaims } from '../../src/db/queries/deliveries.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { withMigratedBefore } from '../helpers/db.js';

const SEED = (ws: string, n: number) => `
  INSERT INTO workspaces (id, name) VALUES ('${ws}', 'Leases');
  INSERT INTO endpoints (id, workspace_id, url, secrets_sealed) VALUES ('${ws}_ep', '${ws}', 'https://example.com/hook', 'x');
  INSERT INTO messages (id, workspace_id, type, data, dedupe_key)
  SELECT '${ws}_msg_' || g, '${ws}', 'lease.tick', '{}', '${ws}:' || g FROM generate_series(1, ${n}) g;
  INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id)
  SELECT '${ws}_dl_' || g, '${ws}', '${ws}_ep', '${ws}_msg_' || g FROM generate_series(1, ${n}) g;`;

describe('delivery leases', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
  });
  after(() => app.close());

  const rowVersions = async (ws: string) =>
    (
      await app.db.query<{ id: string; v: string; attempts: number }>(
        `SELECT id, xmin::text AS v, attempts FROM deliveries WHERE workspace_id = $1 ORDER BY id`,
        [ws],
      )
    ).rows;

  test('a claim leaves the delivery row as it was and counts its attempt on the lease; the record moves it to the row', async () => {
    await app.db.exec(SEED('ws_lease_a', 3));
    const before = await rowVersions('ws_lease_a');
    const claimed = await claimDueDeliveries(app.db, { workerId: 'w_a', limit: 10, perEndpoint: 2, leaseSeconds: 60 });
    assert.deepEqual(claimed.map((c) => [c.id, c.attempts, c.takenOver]).sort(), [
      ['ws_lease_a_dl_1', 1, false],
      ['ws_lease_a_dl_2', 1, false],
    ]);
    assert.deepEqual(await rowVersions('ws_lease_a'), before, 'no delivery row was written by the claim');
    assert.equal((await findDelivery(app.db, 'ws_lease_a', 'ws_lease_a_dl_1'))?.attempts, 1, 'the attempt out is counted where it is read');
    const { rows: leases } = await app.db.query<{ id: string; worker: string; endpoint_id: string; attempts: number }>(
      `SELECT id, worker, endpoint_id, attempts FROM delivery_leases WHERE endpoint_id = 'ws_lease_a_ep' ORDER BY id`,
    );
    assert.deepEqual(
      leases.map((l) => [l.id, l.worker, l.endpoint_id, l.attempts]),
      [
        ['ws_lease_a_dl_1', 'w_a', 'ws_lease_a_ep', 1],
        ['ws_lease_a_dl_2', 'w_a', 'ws_lease_a_ep', 1],
      ],
    );
    // Two in flight fill the endpoint's two slots: the third waits.
    assert.deepEqual(await claimDueDeliveries(app.db, { workerId: 'w_b', limit: 10, perEndpoint: 2, leaseSeconds: 60 }), []);

    // A record by another sender moves nothing; the holder's record deletes the lease and counts the attempt.
    const attempt = (id: string, outcome: 'succeeded' | 'retry') => ({
      id: `att_${id}`,
      deliveryId: id,
      endpointId: 'ws_lease_a_ep',
      startedAt: new Date(),
      durationMs: 3,
      statusCode: outcome === 'succeeded' ? 200 : 500,
      responseExcerpt: null,
      error: null,
      outcome,
      retryInSeconds: outcome === 'retry' ? 0 : null,
    });
    await recordAttempts(app.db, 'w_b', [attempt('ws_lease_a_dl_1', 'succeeded')], { succeeded: [], failing: [] });
    assert.equal((await app.db.query(`SELECT 1 FROM delivery_attempts WHERE delivery_id = 'ws_lease_a_dl_1'`)).rowCount, 0);
    await recordAttempts(app.db, 'w_a', [attempt('ws_lease_a_dl_1', 'succeeded'), attempt('ws_lease_a_dl_2', 'retry')], {
      succeeded: [],
      failing: [],
    });
    const { rows } = await app.db.query<{ id: string; status: string; attempts: number }>(
      `SELECT id, status, attempts FROM deliveries WHERE workspace_id = 'ws_lease_a' ORDER BY id`,
    );
    assert.deepEqual(
      rows.map((r) => [r.id, r.status, r.attempts]),
      [
        ['ws_lease_a_dl_1', 'succeeded', 1],
        ['ws_lease_a_dl_2', 'pending', 1],
        ['ws_lease_a_dl_3', 'pending', 0],
      ],
    );
    assert.equal((await app.db.query(`SELECT 1 FROM delivery_leases WHERE endpoint_id = 'ws_lease_a_ep'`)).rowCount, 0);

    // The retried one's next claim counts its second attempt; an expired lease is taken over, counting a third.
    const again = await claimDueDeliveries(app.db, { workerId: 'w_a', limit: 10, perEndpoint: 2, leaseSeconds: 60 });
    assert.deepEqual(again.map((c) => [c.id, c.attempts]).sort(), [
      ['ws_lease_a_dl_2', 2],
      ['ws_lease_a_dl_3', 1],
    ]);
    await app.db.query(`UPDATE delivery_leases SET until = now() - interval '1 second' WHERE id = 'ws_lease_a_dl_2'`);
    const taken = await claimDueDeliveries(app.db, { workerId: 'w_c', limit: 10, perEndpoint: 2, leaseSeconds: 60 });
    assert.deepEqual(
      taken.map((c) => [c.id, c.attempts, c.takenOver]),
      [['ws_lease_a_dl_2', 3, true]],
    );

    // Freeing every claim (an embedded start) keeps the counted attempts on the rows.
    const freed = await releaseAllDeliveryClaims(app.db);
    assert.deepEqual(freed.map((f) => f.id).sort(), ['ws_lease_a_dl_2', 'ws_lease_a_dl_3']);
    const counted = await app.db.query<{ id: string; attempts: number }>(
      `SELECT id, attempts FROM deliveries WHERE workspace_id = 'ws_lease_a' AND status = 'pending' ORDER BY id`,
    );
    assert.deepEqual(
      counted.rows.map((r) => [r.id, r.attempts]),
      [
        ['ws_lease_a_dl_2', 3],
        ['ws_lease_a_dl_3', 1],
      ],
    );
  });

  test('deleting an endpoint takes its deliveries and their leases with it', async () => {
    await app.db.exec(SEED('ws_lease_b', 2));
    await claimDueDeliveries(app.db, { workerId: 'w_d', limit: 10, perEndpoint: 5, leaseSeconds: 60 });
    assert.equal((await app.db.query(`SELECT 1 FROM delivery_leases WHERE endpoint_id = 'ws_lease_b_ep'`)).rowCount, 2);
    await app.db.query(`DELETE FROM endpoints WHERE id = 'ws_lease_b_ep'`);
    assert.equal((await app.db.query(`SELECT 1 FROM delivery_leases WHERE endpoint_id = 'ws_lease_b_ep'`)).rowCount, 0);
  });
});

test('migration 0040: the claims held become leases of the same sender; the claim columns go', async () => {
  await withMigratedBefore(40, async (db, finish) => {
    await db.exec(SEED('ws_m', 3));
    await db.query(
      `UPDATE deliveries SET locked_by = 'w_old', locked_until = now() + interval '1 minute', attempts = 2 WHERE id = 'ws_m_dl_1'`,
    );
    await db.query(
      `UPDATE deliveries SET locked_by = 'w_old', locked_until = now() + interval '1 minute', attempts = 1, status = 'failed'
       WHERE id = 'ws_m_dl_2'`,
    );
    await finish();
    const { rows } = await db.query<{ id: string; worker: string; attempts: number; endpoint_id: string; live: boolean }>(
      `SELECT id, worker, attempts, endpoint_id, until > now() AS live FROM delivery_leases ORDER BY id`,
    );
    assert.deepEqual(rows, [{ id: 'ws_m_dl_1', worker: 'w_old', attempts: 2, endpoint_id: 'ws_m_ep', live: true }]);
    const columns = await db.query(
      `SELECT 1 FROM information_schema.columns WHERE table_name = 'deliveries' AND column_name IN ('locked_by', 'locked_until')`,
    );
    assert.equal(columns.rowCount, 0);
  });
});
