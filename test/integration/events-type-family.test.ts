// The events list filtered by a family of types (`type=customer.subscription.*`): every type with that prefix, in
// this workspace only, newest first, paged without loss or repeat, in the console's live tail too; any other use
// of `*` is refused. And the same under a collation in which the types sharing a prefix do not sort together.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queryable } from '../../src/db/port.js';
import { listEvents, type EventFilter } from '../../src/db/queries/events.js';
import { newId } from '../../src/lib/ids.js';
import { parseTailFilter, tailEvents } from '../../src/services/processing/tail-events.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

type Listed = { id: string; type: string; status: string };

async function insertEvent(app: TestApp, ws: string, id: string, type: string, status: string, n: number): Promise<void> {
  await app.db.query(
    `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, status, payload, raw_body)
     VALUES ($1, $2, 'stripe', $3, $4, $5, '{}', '{}')`,
    [id, ws, `evt_${ws}_${n}`, type, status],
  );
}

/** Every row of a listing, paged two at a time through the cursor. */
async function listAll(app: TestApp, ws: string, query: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const res: { status: number; body: unknown } = await app.api(
      'GET',
      `/api/v1/workspaces/${ws}/events?${query}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const page = res.body as { data: Listed[]; nextCursor: string | null };
    ids.push(...page.data.map((e) => e.id));
    cursor = page.nextCursor;
    if (!cursor) return ids;
  }
  throw new Error('paging did not end');
}

describe('events list: a family of types', () => {
  let app: TestApp;
  let ws: string;
  let other: string;
  // id → type, status of the events stored in `ws`, oldest first.
  const stored: Listed[] = [];

  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Families' })).body.id;
    other = (await app.api('POST', '/api/v1/workspaces', { name: 'Other' })).body.id;
    const types = [
      'customer.subscription.created',
      'customer.created',
      'customer.subscription.updated',
      'invoice.paid',
      'customer.subscription.deleted',
      'customer.subscriptions_report', // shares the text before the dot, not the family
      'customer.subscription.updated',
    ];
    const statuses = ['processed', 'received', 'failed', 'ignored'];
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 21; i++) {
      const type = types[i % types.length]!;
      const status = statuses[i % statuses.length]!;
      for (const [w, list] of [
        [ws, stored],
        [other, null],
      ] as const) {
        const id = newId('ev', t0 + i * 10);
        await insertEvent(app, w, id, type, status, i);
        list?.push({ id, type, status });
      }
    }
  });
  after(() => app.close());

  const all = (query: string) => listAll(app, ws, query);
  const expected = (keep: (e: { type: string; status: string }) => boolean) =>
    stored
      .filter(keep)
      .map((e) => e.id)
      .reverse();

  test('every type of the family, newest first, across pages', async () => {
    const family = (e: { type: string }) => e.type.startsWith('customer.subscription.');
    const ids = await all('type=customer.subscription.*');
    assert.equal(ids.length, 12);
    assert.deepEqual(ids, expected(family));
    assert.deepEqual(
      await all('type=customer.*'),
      expected((e) => e.type.startsWith('customer.')),
    );
  });

  test('with a status and a provider too', async () => {
    assert.deepEqual(
      await all('type=customer.subscription.*&status=failed'),
      expected((e) => e.type.startsWith('customer.subscription.') && e.status === 'failed'),
    );
    assert.deepEqual(await all('type=customer.subscription.*&provider=piano'), []);
    assert.deepEqual(
      await all('type=customer.subscription.*&provider=stripe'),
      expected((e) => e.type.startsWith('customer.subscription.')),
    );
  });

  test('an exact type is still exact, and a family nobody sent is empty', async () => {
    assert.deepEqual(
      await all('type=customer.subscription.updated'),
      expected((e) => e.type === 'customer.subscription.updated'),
    );
    assert.deepEqual(await all('type=charge.*'), []);
  });

  test("the console's live tail follows a family too: oldest first, after its bound, without the rows it sent", async () => {
    const family = (e: { type: string }) => e.type.startsWith('customer.subscription.');
    const filter = parseTailFilter({ type: 'customer.subscription.*' });
    // As the tail polls: from its bound, a few rows at a time, leaving out those already sent.
    const sent: string[] = [];
    for (let polls = 0; polls < 20; polls++) {
      const rows = await tailEvents(app.ctx, ws, filter, { after: stored[0]!.id, exclude: sent, limit: 3 });
      if (rows.length === 0) break;
      sent.push(...rows.map((e) => e.id));
    }
    assert.deepEqual(
      sent,
      stored
        .slice(1)
        .filter(family)
        .map((e) => e.id),
    );
    assert.throws(() => parseTailFilter({ type: 'customer*' }), /a type prefix followed by "\.\*"/);
  });

  test('any other star is refused, saying what is accepted', async () => {
    for (const bad of ['*', '.*', 'customer*', 'customer.*.created', 'customer.subscription.**', '*.created']) {
      const res = await app.api('GET', `/api/v1/workspaces/${ws}/events?type=${encodeURIComponent(bad)}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.field, 'type', bad);
      assert.match(res.body.error.message, /a type prefix followed by "\.\*"/, bad);
    }
  });
});

describe('events list: a type or family with a provider that never sent it', () => {
  let app: TestApp;
  let ws: string;

  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Only Stripe' })).body.id;
    // 3,000 Stripe events of one family, 3,000 Piano events of another type and one of a third.
    await app.db.query(
      `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, status, payload, raw_body)
       SELECT 'ev_' || lpad(g::text, 8, '0'), $1, 'stripe', 'evt_' || g,
              CASE WHEN g % 2 = 0 THEN 'customer.subscription.updated' ELSE 'customer.subscription.created' END,
              CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'processed' END, '{}', '{}'
       FROM generate_series(1, 3000) g`,
      [ws],
    );
    await app.db.query(
      `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, status, payload, raw_body)
       SELECT 'ev_' || lpad((5000 + g)::text, 8, '0'), $1, 'piano', 'piano_' || g, 'term_change', 'processed', '{}', '{}'
       FROM generate_series(1, 3000) g`,
      [ws],
    );
    await app.db.query(
      `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, status, payload, raw_body)
       VALUES ('ev_99999999', $1, 'piano', 'piano_0', 'subscription_created', 'processed', '{}', '{}')`,
      [ws],
    );
    await app.db.query('ANALYZE events');
  });
  after(() => app.close());

  /** The page, and the buffers its statement touched (EXPLAIN ANALYZE of the statement listEvents sent). */
  async function listed(f: Omit<EventFilter, 'workspaceId' | 'limit'>): Promise<{ ids: string[]; buffers: number }> {
    let sent: { sql: string; params: readonly unknown[] } | undefined;
    const watching: Queryable = {
      exec: (sql) => app.db.exec(sql),
      query: (sql, params) => {
        sent = { sql, params: params ?? [] };
        return app.db.query(sql, params);
      },
    };
    const rows = await listEvents(watching, { workspaceId: ws, limit: 50, ...f });
    const { rows: plan } = await app.db.query<{ 'QUERY PLAN': [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }] }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sent!.sql}`,
      sent!.params,
    );
    const top = plan[0]!['QUERY PLAN'][0].Plan;
    return { ids: rows.map((r) => r.id), buffers: top['Shared Hit Blocks'] + top['Shared Read Blocks'] };
  }

  test("finds nothing without reading the other provider's events of the type", async () => {
    // Before the provider was in the type index, each of these read the 3,000 events of the type (checking the
    // provider in the table, row by row) or the provider's 3,000 (checking the type): thousands of buffers.
    for (const f of [
      { typePrefix: 'customer.subscription.', provider: 'piano' },
      { typePrefix: 'customer.', provider: 'piano', status: 'failed' as const },
      { type: 'customer.subscription.updated', provider: 'piano' },
    ]) {
      const { ids, buffers } = await listed(f);
      assert.deepEqual(ids, [], JSON.stringify(f));
      assert.ok(buffers < 100, `${JSON.stringify(f)}: ${buffers} buffers`);
    }
  });

  test('and still lists what the provider did send, newest first', async () => {
    assert.deepEqual((await listed({ type: 'subscription_created', provider: 'piano' })).ids, ['ev_99999999']);
    assert.deepEqual((await listed({ typePrefix: 'subscription_', provider: 'piano' })).ids, ['ev_99999999']);
    const family = await listed({ typePrefix: 'customer.subscription.', provider: 'stripe', status: 'failed' });
    assert.equal(family.ids.length, 50);
    assert.equal(family.ids[0], 'ev_00003000');
    assert.deepEqual(family.ids, [...family.ids].sort().reverse());
    const exact = await listed({ type: 'customer.subscription.updated' });
    assert.deepEqual(
      exact.ids,
      Array.from({ length: 50 }, (_, i) => `ev_${String(3000 - 2 * i).padStart(8, '0')}`),
    );
    // A page reads about as much as it returns, not the 3,000 events of the type.
    assert.ok(exact.buffers < 300, `${exact.buffers} buffers`);
  });
});

describe('events list: a family under a collation that does not keep it together', () => {
  let app: TestApp;
  let ws: string;
  let icu = true;
  const stored: Listed[] = [];

  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Collation' })).body.id;
    // ICU's root collation with punctuation "shifted" (looked at only to break ties), as glibc's en_US.UTF-8, the
    // default of many servers, does: the type index, rebuilt in that order, then holds
    // customer.cash_balance_transaction.created, customer_cash_balance_transaction.created, customer.created, …,
    // customer.subscription.created, customer.subscriptions_report, customer.subscription.updated, customers.x.
    try {
      await app.db.query(`CREATE COLLATION punctuation_shifted (provider = icu, locale = 'und-u-ka-shifted')`);
    } catch {
      icu = false; // a server built without ICU
      return;
    }
    await app.db.query(`ALTER TABLE events ALTER COLUMN type TYPE text COLLATE punctuation_shifted`);
    const types = [
      'customer.subscription.created',
      'customer.subscriptions_report',
      'customer_cash_balance_transaction.created',
      'customer.subscription.updated',
      'customers.x',
      'customer.created',
      'customer.cash_balance_transaction.created',
      'invoice.paid',
    ];
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 24; i++) {
      const e = { id: newId('ev', t0 + i * 10), type: types[i % types.length]!, status: i % 3 === 0 ? 'failed' : 'processed' };
      await insertEvent(app, ws, e.id, e.type, e.status, i);
      stored.push(e);
    }
  });
  after(() => app.close());

  test('each family is listed whole, newest first, across pages', async (t) => {
    if (!icu) return t.skip('the PostgreSQL server has no ICU collations');
    // The premise: the text range of the family holds none of its types in this order.
    const range = await app.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE type >= 'customer.subscription.' AND type < 'customer.subscription/'`,
    );
    assert.equal(range.rows[0]!.n, 0);
    for (const prefix of ['customer.subscription.', 'customer.', 'customer_cash_balance_transaction.']) {
      assert.deepEqual(
        await listAll(app, ws, `type=${prefix}*`),
        stored
          .filter((e) => e.type.startsWith(prefix))
          .map((e) => e.id)
          .reverse(),
        prefix,
      );
    }
    assert.deepEqual(
      await listAll(app, ws, 'type=customer.*&status=failed'),
      stored
        .filter((e) => e.type.startsWith('customer.') && e.status === 'failed')
        .map((e) => e.id)
        .reverse(),
    );
  });
});
