// The events list filtered by a family of types (`type=customer.subscription.*`): every type with that prefix, in
// this workspace only, newest first, paged without loss or repeat; any other use of `*` is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/lib/ids.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

describe('events list: a family of types', () => {
  let app: TestApp;
  let ws: string;
  let other: string;
  // id → type, status of the events stored in `ws`, oldest first.
  const stored: { id: string; type: string; status: string }[] = [];

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
        await app.db.query(
          `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, status, payload, raw_body)
           VALUES ($1, $2, 'stripe', $3, $4, $5, '{}', '{}')`,
          [id, w, `evt_${w}_${i}`, type, status],
        );
        list?.push({ id, type, status });
      }
    }
  });
  after(() => app.close());

  const list = async (query: string) => {
    const res = await app.api('GET', `/api/v1/workspaces/${ws}/events?${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { data: { id: string; type: string; status: string }[]; nextCursor: string | null };
  };
  const all = async (query: string) => {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const page = await list(`${query}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...page.data.map((e) => e.id));
      cursor = page.nextCursor;
      if (!cursor) return ids;
    }
    throw new Error('paging did not end');
  };
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

  test('any other star is refused, saying what is accepted', async () => {
    for (const bad of ['*', '.*', 'customer*', 'customer.*.created', 'customer.subscription.**', '*.created']) {
      const res = await app.api('GET', `/api/v1/workspaces/${ws}/events?type=${encodeURIComponent(bad)}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.field, 'type', bad);
      assert.match(res.body.error.message, /a type prefix followed by "\.\*"/, bad);
    }
  });
});
