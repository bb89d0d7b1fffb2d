// Group commit on the real database over real HTTP: many concurrent webhooks share one INSERT and one commit,
// each answered with its own duplicate flag only after that commit; a flush that fails answers 503 to exactly
// its own requests and stores none of them, while other flushes go through.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openPostgres } from '../../src/db/postgres.js';
import { eventBatcher } from '../../src/services/ingest/inbound-runtime.js';
import { DEFAULT_BATCHER } from '../../src/services/ingest/event-batcher.js';
import { ingestApp, lockEvents } from '../helpers/locks.js';
import { waitFor, type TestApp } from '../helpers/app.js';
import { createTestStore, usingPostgres } from '../helpers/db.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';
import { payloadOf } from '../../src/db/queries/event-payload.js';

const SECRET = 'whsec_group_commit_secret';

describe('group commit', () => {
  let app: TestApp;
  let ws: string;
  const send = (payload: string) => postStripe(app.url, ws, payload, signStripe(payload, SECRET));
  const storedCount = async (ids: string[]) =>
    Number(
      (await app.db.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE provider_event_id = ANY($1::text[])', [ids])).rows[0]!.n,
    );

  before(async () => {
    const store = await createTestStore();
    if (usingPostgres) {
      // A name of its own on the server, so the test can find (and terminate) exactly this app's connections.
      const url = new URL(store.databaseUrl!);
      url.searchParams.set('application_name', 'sluice_group_commit_test');
      store.open = () => openPostgres(url.toString());
    }
    ({ app, ws } = await ingestApp('Group commit', SECRET, store));
  });
  after(async () => {
    await app.close();
    await app.store.drop();
  });

  test('200 concurrent requests in one flush: new, repeated within the flush, already stored — each its own flag, each stored once', async () => {
    const batcher = eventBatcher(app.ctx);
    batcher.options = { ...DEFAULT_BATCHER, maxRows: 256, maxInFlight: 1 };
    const stored = Array.from({ length: 20 }, () => stripeEvent('customer.updated'));
    for (const p of stored) assert.deepEqual((await send(p)).body, { received: true });

    // A first flush held by the lock; the 200 requests then wait together for the next one.
    const lock = lockEvents(app.db);
    await lock.locked;
    const blocker = send(stripeEvent('customer.updated'));
    await waitFor(async () => batcher.flushing === 1, 'the first flush to start');
    const fresh = Array.from({ length: 80 }, () => stripeEvent('customer.updated'));
    const twice = Array.from({ length: 40 }, () => stripeEvent('customer.updated'));
    const requests = [...fresh, ...twice, ...twice, ...stored, ...stored].sort(() => Math.random() - 0.5);
    const before = { ...batcher.stats };
    const answers = requests.map((p) => send(p).then((r) => ({ id: JSON.parse(p).id as string, ...r })));
    await waitFor(async () => batcher.waiting === requests.length, 'all 200 requests to wait for the next flush');
    await lock.release();
    const results = await Promise.all(answers);
    assert.equal((await blocker).status, 200);

    assert.equal(batcher.stats.flushes - before.flushes, 1, 'after the held flush, one flush for all 200');
    assert.equal(batcher.stats.largestFlush, requests.length);
    assert.equal(batcher.stats.sameFlushRepeats - before.sameFlushRepeats, 40 + 20);
    for (const r of results) assert.equal(r.status, 200, `${r.id}: ${JSON.stringify(r.body)}`);
    const flags = new Map<string, boolean[]>();
    for (const r of results) flags.set(r.id, [...(flags.get(r.id) ?? []), r.body.duplicate === true]);
    for (const p of fresh) assert.deepEqual(flags.get(JSON.parse(p).id), [false], 'a new event is not a duplicate');
    for (const p of twice) {
      assert.deepEqual(
        flags.get(JSON.parse(p).id)!.sort(),
        [false, true],
        'the first of two copies in one flush is new, the other a duplicate',
      );
    }
    for (const p of stored) assert.deepEqual(flags.get(JSON.parse(p).id), [true, true], 'already stored: both duplicates');

    const ids = [...flags.keys()];
    const { rows } = await app.db.query<{ id: string; n: string }>(
      'SELECT provider_event_id AS id, count(*) AS n FROM events WHERE provider_event_id = ANY($1::text[]) GROUP BY 1',
      [ids],
    );
    assert.equal(rows.length, ids.length, 'every event is stored');
    assert.ok(
      rows.every((r) => Number(r.n) === 1),
      'each exactly once',
    );
    // Stored as received: the raw text is the payload, not parsed into jsonb until the worker finishes the event
    // (migration 0030); readers parse it meanwhile. The serial keys come from Node.
    const sample = JSON.parse(fresh[0]!);
    const row = (
      await app.db.query<{ payload: any; resolved: any; raw: string; status: string; rawIsPayload: boolean; keys: string[] }>(
        `SELECT payload, ${payloadOf('events')} AS resolved, raw_body AS raw, status, raw_is_payload AS "rawIsPayload",
                serial_keys AS keys
         FROM events WHERE provider_event_id = $1`,
        [sample.id],
      )
    ).rows[0]!;
    assert.equal(row.payload, null);
    assert.equal(row.rawIsPayload, true);
    assert.deepEqual(row.resolved, sample);
    assert.equal(row.raw, fresh[0]);
    assert.equal(row.status, 'received');
    assert.deepEqual(row.keys, [`${ws}:${sample.data.object.id}`]);
  });

  test('a flush the database fails: exactly its requests get 503 and none of them is stored; the next flush is', async () => {
    const batcher = eventBatcher(app.ctx);
    batcher.options = { ...DEFAULT_BATCHER, maxRows: 256, maxInFlight: 1 };
    // A real failure inside the INSERT: a trigger that aborts the statement when it meets a marked event, with
    // a transient SQLSTATE (serialization_failure), as a conflict or a failover would.
    await app.db.exec(`
      CREATE FUNCTION refuse_marked_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.provider_event_id LIKE 'evt_poison_%' THEN
          RAISE EXCEPTION 'marked event' USING ERRCODE = '40001';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_marked_event BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_marked_event();`);
    try {
      const lock = lockEvents(app.db);
      await lock.locked;
      const first = stripeEvent('customer.updated');
      const held = send(first);
      await waitFor(async () => batcher.flushing === 1, 'the first flush to start');
      const doomed = [
        ...Array.from({ length: 15 }, () => stripeEvent('customer.updated')),
        stripeEvent('customer.updated', {}, { id: `evt_poison_${Date.now()}` }),
      ];
      const before = { ...batcher.stats };
      const answers = doomed.map((p) => send(p));
      await waitFor(async () => batcher.waiting === doomed.length, 'the 16 requests to wait for the next flush');
      await lock.release();
      const results = await Promise.all(answers);
      assert.equal((await held).status, 200, 'the flush before is not affected');

      assert.equal(batcher.stats.failedFlushes - before.failedFlushes, 1);
      assert.equal(batcher.stats.failedRequests - before.failedRequests, doomed.length, 'one flush held all 16 and failed');
      for (const r of results) {
        assert.equal(r.status, 503);
        assert.equal(r.body.error.code, 'STORE_UNAVAILABLE');
        assert.doesNotMatch(JSON.stringify(r.body), /marked event|INSERT|SQLSTATE/, 'no database detail in the answer');
      }
      assert.equal(await storedCount(doomed.map((p) => JSON.parse(p).id)), 0, 'nothing of the failed flush is stored');
      assert.equal(await storedCount([JSON.parse(first).id]), 1);

      // The provider retries: the same events (the marked one left out) are then new, and stored.
      const retried = await Promise.all(doomed.slice(0, -1).map((p) => send(p)));
      for (const r of retried) assert.deepEqual(r, { status: 200, body: { received: true } });
      assert.equal(await storedCount(doomed.slice(0, -1).map((p) => JSON.parse(p).id)), 15);
    } finally {
      await app.db.exec('DROP TRIGGER refuse_marked_event ON events; DROP FUNCTION refuse_marked_event()');
    }
  });

  test(
    'PostgreSQL: the connection of one of two flushes in flight is terminated: its requests 503 and unstored, the other flush 200 and stored',
    { skip: !usingPostgres && 'needs a PostgreSQL server (DATABASE_URL)' },
    async () => {
      const batcher = eventBatcher(app.ctx);
      batcher.options = { ...DEFAULT_BATCHER, maxRows: 256, maxInFlight: 2 };
      const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      try {
        const lock = lockEvents(app.db);
        await lock.locked;
        const events = Array.from({ length: 40 }, () => stripeEvent('customer.updated'));
        const before = { ...batcher.stats };
        const post = (p: string) => send(p).then((r) => ({ id: JSON.parse(p).id as string, ...r }));
        // A first wave starts one flush; the second wave starts the other, while the first is held.
        const answers = events.slice(0, 5).map(post);
        await waitFor(async () => batcher.flushing === 1, 'the first flush to start');
        answers.push(...events.slice(5).map(post));
        // Two flushes blocked on the lock, each on its own connection, the rest of the requests waiting behind.
        const blocked = await waitFor(async () => {
          const { rows } = await admin.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity
             WHERE application_name = 'sluice_group_commit_test' AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO events%'
             ORDER BY pid`,
          );
          return rows.length === 2 && batcher.flushing === 2 && rows;
        }, 'two flushes waiting on the lock');
        await admin.query('SELECT pg_terminate_backend($1)', [blocked[0]!.pid]);
        await waitFor(async () => batcher.stats.failedFlushes - before.failedFlushes === 1, 'the terminated flush to fail');
        const failedRequests = batcher.stats.failedRequests - before.failedRequests;
        await lock.release();
        const results = await Promise.all(answers);

        const refused = results.filter((r) => r.status !== 200);
        const acked = results.filter((r) => r.status === 200);
        assert.equal(refused.length, failedRequests, 'exactly the requests of the terminated flush are refused');
        assert.ok(refused.length >= 1 && acked.length >= 1, `${refused.length} refused, ${acked.length} acknowledged`);
        for (const r of refused) {
          assert.equal(r.status, 503);
          assert.equal(r.body.error.code, 'STORE_UNAVAILABLE');
        }
        assert.equal(await storedCount(refused.map((r) => r.id)), 0, 'nothing of the terminated flush is stored');
        assert.equal(await storedCount(acked.map((r) => r.id)), acked.length, 'every acknowledged event is stored');
      } finally {
        await admin.end();
      }
    },
  );
});
