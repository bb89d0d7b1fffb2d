// Many endpoints on one origin (every Zap is a URL on hooks.zapier.com): the sender's lanes may all go to that
// origin at once, and no request may wait in the HTTP client's queue for a connection while its attempt's time
// runs. Before, the pool kept 64 connections per origin under 128 lanes, so the rest queued and a slow but healthy
// receiver had its deliveries time out.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
const ENDPOINTS = 5;
const MESSAGES = 20; // 100 deliveries, all to one origin, 20 per endpoint (its concurrency)

describe('endpoints sharing an origin', () => {
  let app: TestApp;
  let receiver: Receiver;
  before(async () => {
    // Each answer takes 1.5 s of a 2.5 s attempt: one that queued behind another could not make it.
    receiver = await startReceiver(() => ({ status: 200, delayMs: 1500 }));
    app = await startTestApp({
      config: { outboundAllow: LOOPBACK, outboundTimeoutMs: 2500, outboundConcurrency: 128, endpointConcurrency: 20 },
    });
  });
  after(async () => {
    await app.close();
    await receiver.close();
  });

  test('100 slow deliveries to one origin at once: every one answered within its time, first try', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'shared origin' })).body.id as string;
    const endpoints: string[] = [];
    for (let i = 0; i < ENDPOINTS; i++) {
      const ep = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${receiver.url}/zap/${i}` });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      assert.equal((await app.api('PATCH', `/api/v1/workspaces/${ws}/endpoints/${ep.body.id}`, { state: 'paused' })).status, 200);
      endpoints.push(ep.body.id);
    }
    for (let i = 0; i < MESSAGES; i++) {
      assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: { n: i } })).status, 201);
    }
    for (const id of endpoints) {
      assert.equal((await app.api('PATCH', `/api/v1/workspaces/${ws}/endpoints/${id}`, { state: 'enabled' })).status, 200);
    }
    const total = ENDPOINTS * MESSAGES;
    const attempts = await waitFor(
      async () => {
        const { rows } = await app.db.query<{ status: string; attempts: number; last_error: string | null }>(
          `SELECT status, attempts, last_error FROM deliveries WHERE workspace_id = $1`,
          [ws],
        );
        return rows.length === total && rows.every((r) => r.attempts >= 1 && r.status !== 'pending') ? rows : undefined;
      },
      'every delivery attempted',
      30_000,
    );
    const failed = attempts.filter((r) => r.status !== 'succeeded');
    assert.deepEqual(
      failed.slice(0, 3),
      [],
      `${failed.length} of ${total} failed, e.g. ${failed[0]?.last_error ?? ''}; the receiver had ${receiver.requests.length} requests`,
    );
    assert.ok(
      attempts.every((r) => r.attempts === 1),
      'each delivered on its first attempt',
    );
  });
});
