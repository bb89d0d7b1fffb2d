// The order rule of the CRM writes (db/queries/crm.ts): upsertGuarded writes a row exactly when isNewer says the
// event may, and reports what it found and wrote. Every combination of the row's version and the event's is tried
// against a real database, so a faster path for these writes (one that decides in SQL) must keep the same answers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Db } from '../../src/db/port.js';
import { isNewer, upsertGuarded, type CrmRow, type Version } from '../../src/db/queries/crm.js';
import { insertWorkspace } from '../../src/db/queries/workspaces.js';
import { createTestStore, openMigrated, type TestStore } from '../helpers/db.js';

let store: TestStore;
let db: Db;
before(async () => {
  store = await createTestStore();
  db = await openMigrated(store);
  await insertWorkspace(db, { id: 'ws_order', name: 'order', demo: false });
});
after(async () => {
  await db.close();
  await store.drop();
});

const T = new Date('2026-03-01T12:00:00Z');
const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);

test('upsertGuarded writes exactly when isNewer allows, for every combination of versions (ties without a resolver included)', async () => {
  const olds: Array<Pick<CrmRow, 'stub' | 'deleted'> & { source_ts: Date | null; source_rank: number; source_event_id: string | null }> =
    [];
  for (const stub of [false, true])
    for (const ts of [null, at(-1), at(0), at(1)])
      for (const rank of [0, 5, 9])
        for (const eventId of [null, 'evt_A', 'evt_m', 'evt_mm', 'evt_z'])
          for (const deleted of [false, true]) olds.push({ stub, deleted, source_ts: ts, source_rank: rank, source_event_id: eventId });
  const versions: Version[] = [];
  for (const deleted of [false, true])
    for (const rank of [0, 5, 9]) for (const eventId of ['evt_m', 'evt_a']) versions.push({ ts: T, rank, eventId, deleted });

  let n = 0;
  let writes = 0;
  for (const old of olds) {
    for (const v of versions) {
      const providerId = `cus_${n++}`;
      const key = { workspaceId: 'ws_order', provider: 'stripe', providerId };
      await db.query(
        `INSERT INTO customers (id, workspace_id, provider, provider_id, name, stub, deleted, source_ts, source_rank, source_event_id)
         VALUES ($1, 'ws_order', 'stripe', $2, 'before', $3, $4, $5, $6, $7)`,
        [`row_${providerId}`, providerId, old.stub, old.deleted, old.source_ts, old.source_rank, old.source_event_id],
      );
      const expected = isNewer(old as unknown as CrmRow, v);
      const result = await db.transaction((tx) => upsertGuarded(tx, 'customers', key, { name: 'after' }, v, () => 'unused'));
      const { rows } = await db.query<{ name: string; deleted: boolean; source_event_id: string }>(
        'SELECT name, deleted, source_event_id FROM customers WHERE provider_id = $1',
        [providerId],
      );
      const what = `row ${JSON.stringify(old)} event ${JSON.stringify(v)}`;
      assert.equal(result.applied, expected, what);
      assert.equal(rows[0]!.name, expected ? 'after' : 'before', what);
      assert.equal(result.old?.name, 'before', what);
      assert.equal(result.row.name, rows[0]!.name, what);
      if (expected) {
        assert.equal(rows[0]!.deleted, v.deleted, what);
        assert.equal(rows[0]!.source_event_id, v.eventId, what);
        writes++;
      }
    }
  }
  // Both outcomes were exercised, many times each.
  assert.ok(writes > 100 && writes < olds.length * versions.length - 100, `${writes} writes`);
});

test('upsertGuarded inserts a row it has not seen, with the version of its event', async () => {
  const v: Version = { ts: T, rank: 3, eventId: 'evt_new', deleted: false };
  const key = { workspaceId: 'ws_order', provider: 'stripe', providerId: 'cus_fresh' };
  const r = await db.transaction((tx) => upsertGuarded(tx, 'customers', key, { name: 'fresh' }, v, () => 'cus_row_fresh'));
  assert.equal(r.applied, true);
  assert.equal(r.old, undefined);
  assert.equal(r.row.id, 'cus_row_fresh');
  assert.equal(r.row.name, 'fresh');
  assert.equal(r.row.source_event_id, 'evt_new');
  assert.equal(Number(r.row.source_rank), 3);
});
