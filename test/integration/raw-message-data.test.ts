// A raw provider message refers to its event's payload instead of holding a copy (migration 0029): readers see the
// payload as the message's data, a receiver gets it signed as usual, and the data outlives the event when
// retention deletes it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCidrs } from '../../src/lib/cidr.js';
import { pruneEventBatch } from '../../src/db/queries/retention.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_raw_message_data';

describe('raw messages refer to their event', () => {
  let app: TestApp;
  let receiver: Receiver;
  let ws: string;

  before(async () => {
    receiver = await startReceiver(() => ({ status: 200, body: 'ok' }));
    app = await startTestApp({ config: { outboundAllow: parseCidrs('127.0.0.0/8').cidrs } });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Raw data' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const ep = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${receiver.url}/raw`, eventTypes: ['stripe.*'] });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
  });
  after(async () => {
    await app.close();
    await receiver.close();
  });

  /** Sends an event no projection handles (so no CRM row names it and retention may delete it); resolves to the
   *  parsed payload and the stored event's id once processed. */
  async function sendUnhandled(n: number): Promise<{ payload: Record<string, unknown>; eventId: string }> {
    const body = stripeEvent('balance.available', { object: 'balance', available: [{ amount: n, currency: 'eur' }] });
    assert.equal((await postStripe(app.url, ws, body, signStripe(body, SECRET))).status, 200);
    const payload = JSON.parse(body) as Record<string, unknown>;
    const eventId = await waitFor(async () => {
      const { rows } = await app.db.query<{ id: string; status: string }>(
        'SELECT id, status FROM events WHERE workspace_id = $1 AND provider_event_id = $2',
        [ws, payload.id],
      );
      return rows[0] && rows[0].status !== 'received' ? rows[0].id : undefined;
    }, 'the event processed');
    return { payload, eventId };
  }

  const messageRow = async (eventId: string) =>
    (
      await app.db.query<{ id: string; data: unknown; data_event_id: string | null }>(
        'SELECT id, data, data_event_id FROM messages WHERE workspace_id = $1 AND dedupe_key = $2',
        [ws, `raw:${eventId}`],
      )
    ).rows[0];

  const listed = async (messageId: string) => {
    const res = await app.api('GET', `/api/v1/workspaces/${ws}/messages?type=stripe.balance.available&limit=100`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.data as { id: string; data: unknown }[]).find((m) => m.id === messageId);
  };

  test('the message row holds no copy; the API and the receiver see the payload', async () => {
    const { payload, eventId } = await sendUnhandled(101);
    const row = await messageRow(eventId);
    assert.ok(row, 'the raw message is stored');
    assert.equal(row.data, null, 'no copy of the payload in the message row');
    assert.equal(row.data_event_id, eventId);
    assert.deepEqual((await listed(row.id))?.data, payload);
    const got = await waitFor(async () => receiver.requests.find((r) => r.headers['webhook-id'] === row.id), 'the delivery');
    assert.deepEqual((JSON.parse(got.body) as { data: unknown }).data, payload);
  });

  test('retention deletes the event and the message keeps the payload as its own data', async () => {
    const { payload, eventId } = await sendUnhandled(202);
    const before = await messageRow(eventId);
    assert.equal(before?.data, null);
    // Every delivery done first: an event a pending delivery still needs is kept.
    await waitFor(async () => receiver.requests.some((r) => r.headers['webhook-id'] === before!.id), 'the delivery');
    await waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE workspace_id = $1 AND status = 'pending'`,
        [ws],
      );
      return rows[0]!.n === 0;
    }, 'no pending delivery');
    // A cutoff just ahead of now: everything processed so far is past it.
    const pruned = await pruneEventBatch(app.db, { workspaceId: ws, cutoff: new Date(Date.now() + 1000), afterId: null, limit: 100 });
    assert.ok(pruned.deleted >= 1, JSON.stringify(pruned));
    assert.equal((await app.db.query('SELECT 1 FROM events WHERE id = $1', [eventId])).rowCount, 0, 'the event is gone');
    const after = await messageRow(eventId);
    assert.deepEqual(after?.data, payload, 'the payload became the message’s own data');
    assert.equal(after?.data_event_id, null);
    assert.deepEqual((await listed(after!.id))?.data, payload);
  });

  test('a message cannot refer to nothing', async () => {
    await assert.rejects(
      app.db.query(
        `INSERT INTO messages (id, workspace_id, type, data, source_provider, source_event_id, dedupe_key)
         VALUES ('msg_nothing', $1, 'stripe.x', NULL, 'stripe', 'evt_x', 'raw:nothing')`,
        [ws],
      ),
      /messages_data_present/,
    );
  });
});
