// A delivery frees its endpoint's slot when its request ends, not when its attempt is recorded: recording is
// batched and can wait (here on a lock the test holds), and the endpoint's next delivery must not wait with it.
// The sender's poll is a minute here, so every claim comes from a wake-up: the first from enabling the paused
// endpoint, the second from the end of the first request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { holdLock } from '../helpers/locks.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

describe('a delivery frees its slot when its request ends', () => {
  let app: TestApp;
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, endpointConcurrency: 1, workerPollMs: 60_000 } });
  });
  after(async () => {
    await app.close();
    await receiver.close();
  });

  test("with one slot per endpoint, the next delivery goes out while the first one's attempt waits to be recorded", async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'slot freed' })).body.id as string;
    const ep = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${receiver.url}/hook` });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    const endpoint = `/api/v1/workspaces/${ws}/endpoints/${ep.body.id}`;
    assert.equal((await app.api('PATCH', endpoint, { state: 'paused' })).status, 200);
    for (let i = 0; i < 2; i++) {
      assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: { n: i } })).status, 201);
    }
    // Recording an attempt share-locks its message: while the test holds both messages, no attempt is recorded.
    const lock = holdLock(app.db, 'SELECT id FROM messages WHERE workspace_id = $1 FOR UPDATE', [ws]);
    await lock.locked;
    try {
      assert.equal((await app.api('PATCH', endpoint, { state: 'enabled' })).status, 200);
      await waitFor(async () => receiver.requests.length === 2, 'both deliveries sent, one after the other');
      const { rows } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM delivery_attempts WHERE endpoint_id = $1', [
        ep.body.id,
      ]);
      assert.equal(rows[0]!.n, 0, 'neither attempt recorded yet: the second went out while the first waited');
    } finally {
      await lock.release();
    }
    await waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE workspace_id = $1 AND status = 'succeeded'`,
        [ws],
      );
      return rows[0]!.n === 2;
    }, 'both attempts recorded once the lock is gone');
    assert.equal(receiver.requests.length, 2, 'each delivery sent once');
  });
});
