// The order rule of the CRM writes (db/queries/crm.ts): upsertGuarded writes a row exactly when isNewer says the
// event may, and reports what it found and wrote. Every combination of the row's version and the event's is tried
// against a real database, so a faster path for these writes (one that decides in SQL) must keep the same answers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Db } from '../../src/db/port.js';
import {
  isNewer,
  isTie,
  upsertGuarded,
  upsertManyInOneTrip,
  type CrmRow,
  type OneTripWrite,
  type TieResolver,
  type Version,
} from '../../src/db/queries/crm.js';
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

/** Every row version the matrices try, and every event version against them. */
function matrix() {
  const olds: Array<Pick<CrmRow, 'stub' | 'deleted'> & { source_ts: Date | null; source_rank: number; source_event_id: string | null }> =
    [];
  for (const stub of [false, true])
    for (const ts of [null, at(-1), at(0), at(1)])
      for (const rank of [0, 5, 9])
        for (const eventId of [null, 'evt_A', 'evt_m', 'evt_mm', 'evt_z'])
          for (const deleted of [false, true]) olds.push({ stub, deleted, source_ts: ts, source_rank: rank, source_event_id: eventId });
  const versions: Version[] = [];
  for (const deleted of [false, true])
    for (const rank of [0, 5, 9])
      for (const eventId of ['evt_m', 'evt_a'])
        // resurrects: an object the provider can create again under its id (its tombstone gives way to newer events).
        for (const resurrects of [false, true]) versions.push({ ts: T, rank, eventId, deleted, ...(resurrects ? { resurrects } : {}) });
  return { olds, versions };
}

test('upsertGuarded writes exactly when isNewer allows, for every combination of versions (ties without a resolver included)', async () => {
  const { olds, versions } = matrix();
  let n = 0;
  let writes = 0;
  // A resolver that declines sends a tie through the general path, which must then apply the same rule.
  const resolvers: Array<TieResolver | undefined> = [undefined, () => undefined];
  for (const old of olds) {
    for (const [v, resolveTie] of versions.flatMap((v) => resolvers.map((r) => [v, r] as const))) {
      const providerId = `cus_${n++}`;
      const key = { workspaceId: 'ws_order', provider: 'stripe', providerId };
      await db.query(
        `INSERT INTO customers (id, workspace_id, provider, provider_id, name, stub, deleted, source_ts, source_rank, source_event_id)
         VALUES ($1, 'ws_order', 'stripe', $2, 'before', $3, $4, $5, $6, $7)`,
        [`row_${providerId}`, providerId, old.stub, old.deleted, old.source_ts, old.source_rank, old.source_event_id],
      );
      const expected = isNewer(old as unknown as CrmRow, v);
      const result = await db.transaction((tx) => upsertGuarded(tx, 'customers', key, { name: 'after' }, v, () => 'unused', resolveTie));
      const { rows } = await db.query<{ name: string; deleted: boolean; source_event_id: string }>(
        'SELECT name, deleted, source_event_id FROM customers WHERE provider_id = $1',
        [providerId],
      );
      const what = `row ${JSON.stringify(old)} event ${JSON.stringify(v)}${resolveTie ? ' (resolver declines)' : ''}`;
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
  assert.ok(writes > 100 && writes < olds.length * versions.length * 2 - 100, `${writes} writes`);
});

test('upsertManyInOneTrip answers each write as one write alone would, for every combination, hundreds in a statement', async () => {
  const { olds, versions } = matrix();
  const cases: { old: (typeof olds)[number] | undefined; v: Version; tiesToCaller: boolean; providerId: string }[] = [];
  let n = 0;
  for (const old of [...olds, undefined])
    for (const v of versions) for (const tiesToCaller of [false, true]) cases.push({ old, v, tiesToCaller, providerId: `cus_many_${n++}` });
  for (const c of cases) {
    if (!c.old) continue;
    await db.query(
      `INSERT INTO customers (id, workspace_id, provider, provider_id, name, stub, deleted, source_ts, source_rank, source_event_id)
       VALUES ($1, 'ws_order', 'stripe', $2, 'before', $3, $4, $5, $6, $7)`,
      [`row_${c.providerId}`, c.providerId, c.old.stub, c.old.deleted, c.old.source_ts, c.old.source_rank, c.old.source_event_id],
    );
  }
  const write = (c: (typeof cases)[number], name: string): OneTripWrite => ({
    key: { workspaceId: 'ws_order', provider: 'stripe', providerId: c.providerId },
    // The meta columns upsertGuarded adds to the values.
    values: { name, deleted: c.v.deleted, stub: false, source_ts: c.v.ts, source_rank: c.v.rank, source_event_id: c.v.eventId },
    version: c.v,
    newRowId: () => `new_${c.providerId}`,
    tiesToCaller: c.tiesToCaller,
  });
  let writes = 0;
  let undecided = 0;
  for (let i = 0; i < cases.length; i += 700) {
    const chunk = cases.slice(i, i + 700);
    const answers = await db.transaction((tx) =>
      upsertManyInOneTrip(
        tx,
        'customers',
        chunk.map((c) => write(c, 'after')),
      ),
    );
    const { rows } = await db.query<{ provider_id: string; name: string; source_event_id: string }>(
      'SELECT provider_id, name, source_event_id FROM customers WHERE provider_id = ANY($1)',
      [chunk.map((c) => c.providerId)],
    );
    const now = new Map(rows.map((r) => [r.provider_id, r]));
    chunk.forEach((c, j) => {
      const answer = answers[j];
      const what = `row ${JSON.stringify(c.old)} event ${JSON.stringify(c.v)} tiesToCaller ${c.tiesToCaller}`;
      if (!c.old) {
        assert.deepEqual(
          [answer?.applied, answer?.old, answer?.row.id, now.get(c.providerId)?.name],
          [true, undefined, `new_${c.providerId}`, 'after'],
          what,
        );
        return;
      }
      const tie = c.tiesToCaller && isTie(c.old as unknown as CrmRow, c.v);
      const expected = !tie && isNewer(c.old as unknown as CrmRow, c.v);
      if (tie) {
        assert.equal(answer, undefined, what);
        undecided++;
      } else {
        assert.equal(answer?.applied, expected, what);
        assert.equal(answer?.old?.name, 'before', what);
        assert.equal(answer?.row.name, now.get(c.providerId)!.name, what);
      }
      assert.equal(now.get(c.providerId)!.name, expected ? 'after' : 'before', what);
      if (expected) writes++;
    });
  }
  assert.ok(writes > 100 && undecided > 10, `${writes} writes, ${undecided} ties left to the caller`);

  // One object twice in a call: the second write is decided against the row the first one wrote.
  const twice = cases.find((c) => c.old === undefined)!;
  const again: Version = { ...twice.v, ts: at(10), eventId: 'evt_later' };
  const [first, second] = await db.transaction((tx) =>
    upsertManyInOneTrip(tx, 'customers', [
      write({ ...twice, providerId: 'cus_twice' }, 'first'),
      write({ ...twice, providerId: 'cus_twice', v: again }, 'second'),
    ]),
  );
  assert.equal(first?.applied, true);
  assert.equal(second?.old?.name, 'first');
  assert.equal(second?.row.name, 'second');
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

test('a same-second tie goes to the resolver, whose values are written; without a tie it is never asked', async () => {
  const v: Version = { ts: T, rank: 1, eventId: 'evt_b', deleted: false };
  const seed = async (providerId: string, eventId: string, ts: Date) =>
    db.query(
      `INSERT INTO customers (id, workspace_id, provider, provider_id, name, source_ts, source_rank, source_event_id)
       VALUES ($1, 'ws_order', 'stripe', $1, 'before', $2, 5, $3)`,
      [providerId, ts, eventId],
    );
  const asked: CrmRow[] = [];
  const resolver: TieResolver = (old) => {
    asked.push(old);
    return { values: { name: 'from the provider' }, deleted: false };
  };
  const write = (providerId: string) =>
    db.transaction((tx) =>
      upsertGuarded(
        tx,
        'customers',
        { workspaceId: 'ws_order', provider: 'stripe', providerId },
        { name: 'event' },
        v,
        () => 'x',
        resolver,
      ),
    );
  await seed('cus_tie', 'evt_a', T);
  const tie = await write('cus_tie');
  assert.equal(asked.length, 1);
  assert.ok(isTie(asked[0]!, v));
  assert.equal(tie.applied, true);
  assert.equal(tie.row.name, 'from the provider', 'the resolver settles it, though the event ranks lower');

  // Also when the event outranks the row: the rank rule alone would have written the event's values unasked.
  await db.query(`UPDATE customers SET source_rank = 0 WHERE provider_id = 'cus_tie'`);
  await db.query(`UPDATE customers SET source_event_id = 'evt_z', name = 'before' WHERE provider_id = 'cus_tie'`);
  const outranked = await write('cus_tie');
  assert.equal(asked.length, 2);
  assert.equal(outranked.row.name, 'from the provider');

  await seed('cus_older', 'evt_a', at(-5));
  const newer = await write('cus_older');
  assert.equal(asked.length, 2, 'no tie, no question');
  assert.equal(newer.row.name, 'event');
});
