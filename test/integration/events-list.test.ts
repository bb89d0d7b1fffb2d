// The events list: every filter combination (each a different index path since migration 0010) returns
// exactly the matching events of the workspace, newest first, and paging through it with the cursor visits
// each once. Compared against the same filter applied in JavaScript to the rows the test stored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/lib/ids.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

interface Row {
  id: string;
  provider: string;
  type: string;
  status: string;
  receivedAt: Date;
}

const PROVIDERS = ['stripe', 'piano', 'custom'];
const STATUSES = ['received', 'processed', 'ignored', 'failed'];
const TYPES = ['invoice.paid', 'customer.updated', 'access_granted'];

describe('events list', () => {
  let app: TestApp;
  let ws: string;
  let other: string;
  const rows: Row[] = [];

  async function store(workspaceId: string, r: Row): Promise<void> {
    await app.db.query(
      `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, payload, raw_body, status, received_at, next_attempt_at)
       VALUES ($1, $2, $3, $1, $4, '{}', '{}', $5, $6, now() + interval '1 day')`,
      [r.id, workspaceId, r.provider, r.type, r.status, r.receivedAt],
    );
  }

  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'List' })).body.id;
    other = (await app.api('POST', '/api/v1/workspaces', { name: 'Other' })).body.id;
    const now = Date.now();
    // 96 events over 4 days, each provider × status × type pattern several times, ids made at receipt time.
    for (let i = 0; i < 96; i++) {
      const at = now - (96 - i) * 3_600_000;
      const r: Row = {
        id: newId('ev', at),
        provider: PROVIDERS[i % 3]!,
        status: STATUSES[Math.floor(i / 3) % 4]!,
        type: TYPES[Math.floor(i / 12) % 3]!,
        receivedAt: new Date(at),
      };
      rows.push(r);
      await store(ws, r);
      // The same shapes in another workspace: never listed in this one.
      await store(other, { ...r, id: newId('ev', at) });
    }
  });
  after(() => app.close());

  async function listAll(query: Record<string, string>, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 200; pages++) {
      const q: URLSearchParams = new URLSearchParams({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) });
      const res: { status: number; body: any } = await app.api('GET', `/api/v1/workspaces/${ws}/events?${q}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      ids.push(...res.body.data.map((e: { id: string }) => e.id));
      cursor = res.body.nextCursor;
      if (!cursor) return ids;
    }
    throw new Error('paging never ended');
  }

  const expected = (f: (r: Row) => boolean) =>
    rows
      .filter(f)
      .map((r) => r.id)
      .sort()
      .reverse();

  const sinceAt = () => new Date(Date.now() - 30 * 3_600_000);
  const cases: [string, Record<string, string>, (r: Row) => boolean][] = [
    ['no filter', {}, () => true],
    ['provider', { provider: 'piano' }, (r) => r.provider === 'piano'],
    ['status', { status: 'failed' }, (r) => r.status === 'failed'],
    ['provider and status', { provider: 'stripe', status: 'ignored' }, (r) => r.provider === 'stripe' && r.status === 'ignored'],
    ['type', { type: 'invoice.paid' }, (r) => r.type === 'invoice.paid'],
    [
      'type, provider and status',
      { type: 'customer.updated', provider: 'custom', status: 'processed' },
      (r) => r.type === 'customer.updated' && r.provider === 'custom' && r.status === 'processed',
    ],
    ['a type never stored', { type: 'invoice.finalized' }, () => false],
  ];

  for (const [name, query, f] of cases) {
    test(`${name}: exactly the matching events, newest first, every page once`, async () => {
      for (const limit of [1, 7, 500]) assert.deepEqual(await listAll(query, limit), expected(f), `limit ${limit}`);
    });
  }

  test('since: only events received at or after it, with any other filter', async () => {
    const since = sinceAt();
    const after = (r: Row) => r.receivedAt >= since;
    assert.deepEqual(await listAll({ since: since.toISOString() }, 5), expected(after));
    assert.deepEqual(
      await listAll({ since: since.toISOString(), status: 'received' }, 5),
      expected((r) => after(r) && r.status === 'received'),
    );
    assert.deepEqual(
      await listAll({ since: since.toISOString(), provider: 'stripe' }, 5),
      expected((r) => after(r) && r.provider === 'stripe'),
    );
    assert.deepEqual(
      await listAll({ since: since.toISOString(), type: 'access_granted' }, 5),
      expected((r) => after(r) && r.type === 'access_granted'),
    );
  });

  test('a cursor from the middle of the list continues below it', async () => {
    const all = expected(() => true);
    const cursor = all[40]!;
    const res = await app.api('GET', `/api/v1/workspaces/${ws}/events?cursor=${cursor}&limit=10&status=processed`);
    assert.deepEqual(
      res.body.data.map((e: { id: string }) => e.id),
      expected((r) => r.id < cursor && r.status === 'processed').slice(0, 10),
    );
  });

  test('the health view counts by provider and status from the same index, with its limit stated', async () => {
    const res = await app.api('GET', `/api/v1/workspaces/${ws}/health`);
    assert.equal(res.status, 200);
    const piano = res.body.providers.piano;
    for (const status of STATUSES) {
      assert.equal(piano.counts[status], rows.filter((r) => r.provider === 'piano' && r.status === status).length, status);
    }
    assert.equal(piano.countLimit, 100_000);
    assert.equal(
      piano.lastEventAt,
      rows
        .filter((r) => r.provider === 'piano')
        .at(-1)!
        .receivedAt.toISOString(),
    );
    assert.equal(piano.lag.pending, rows.filter((r) => r.provider === 'piano' && r.status === 'received').length);
  });
});
