// The processing loop: outcomes, retries with backoff, the failure budget, replay, and recovery of claims
// whose worker died.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findHandler } from '../../src/crm/handlers.js';
import { claimDueEvents } from '../../src/db/queries/events.js';
import { processEvent } from '../../src/services/processing/process-event.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_processing_secret';

describe('event processing', () => {
  let app: TestApp;
  let ws: string;
  const flaky = new Map<string, number>(); // provider event id -> failures still to produce
  const calls = new Map<string, number>();

  before(async () => {
    app = await startTestApp({
      // Short schedule so the failure budget runs out within the test: 3 retries, 4 attempts in all.
      config: { processingRetrySchedule: [0.05, 0.05, 0.05] },
      findHandler: (provider, type) => {
        // Content the database refuses (a value PostgreSQL cannot cast) and content that throws a RangeError
        // (an impossible date) fail the same way on every attempt.
        if (type === 'test.db_refuses') return async (tx) => void (await tx.query(`SELECT 'not a number'::int`));
        if (type === 'test.bad_date') return async () => void new Date(1e20 * 1000).toISOString();
        if (type !== 'test.flaky') return findHandler(provider, type);
        return async (_tx, event) => {
          const id = (event.payload as { id: string }).id;
          calls.set(id, (calls.get(id) ?? 0) + 1);
          const left = flaky.get(id) ?? 0;
          if (left > 0) {
            flaky.set(id, left - 1);
            throw new Error(`handler exploded (${left} to go)`);
          }
        };
      },
    });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Processing' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
  });
  after(() => app.close());

  async function send(payload: string): Promise<string> {
    const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(res.status, 200);
    const providerEventId = JSON.parse(payload).id;
    const list = await app.api('GET', `/api/v1/workspaces/${ws}/events?type=${JSON.parse(payload).type}&limit=500`);
    return list.body.data.find((e: any) => e.providerEventId === providerEventId).id;
  }

  const settled = (id: string) =>
    waitFor(async () => {
      const e = (await app.api('GET', `/api/v1/workspaces/${ws}/events/${id}`)).body;
      return e.status !== 'received' && e;
    }, `event ${id} settled`);

  test('a failing handler is retried and the event recovers', async () => {
    const payload = stripeEvent('test.flaky');
    flaky.set(JSON.parse(payload).id, 2);
    const id = await send(payload);
    const e = await settled(id);
    assert.equal(e.status, 'processed');
    assert.equal(e.attempts, 3);
    assert.equal(calls.get(JSON.parse(payload).id), 3);
    assert.equal(e.error, undefined, 'the error of an earlier attempt is cleared on success');
  });

  test('after the retry budget the event is failed, with its error', async () => {
    const payload = stripeEvent('test.flaky');
    flaky.set(JSON.parse(payload).id, 100);
    const id = await send(payload);
    const e = await settled(id);
    assert.equal(e.status, 'failed');
    assert.equal(e.attempts, 4);
    assert.match(e.error, /handler exploded/);
    const failed = await app.api('GET', `/api/v1/workspaces/${ws}/events?status=failed`);
    assert.ok(failed.body.data.some((x: any) => x.id === id));
    const health = await app.api('GET', `/api/v1/workspaces/${ws}/health`);
    assert.ok(health.body.providers.stripe.counts.failed >= 1);

    // Replay after the cause is fixed: the event runs again and is processed.
    flaky.set(JSON.parse(payload).id, 0);
    const replay = await app.api('POST', `/api/v1/workspaces/${ws}/events/${id}/replay`);
    assert.equal(replay.status, 202);
    const again = await settled(id);
    assert.equal(again.status, 'processed');
    assert.equal(calls.get(JSON.parse(payload).id), 5);
  });

  test('content that can never succeed fails at the first attempt with a readable reason, no raw SQL', async () => {
    const dbRefuses = await settled(await send(stripeEvent('test.db_refuses')));
    assert.equal(dbRefuses.status, 'failed');
    assert.equal(dbRefuses.attempts, 1, 'no retries for a permanent error');
    assert.match(dbRefuses.error, /database refused this event's content.*SQLSTATE 22P02/);
    assert.doesNotMatch(dbRefuses.error, /invalid input syntax|not a number|SELECT/);

    const badDate = await settled(await send(stripeEvent('test.bad_date')));
    assert.equal(badDate.status, 'failed');
    assert.equal(badDate.attempts, 1);
    assert.match(badDate.error, /cannot be processed: a timestamp in it is out of range/);
  });

  test('replay of a processed event runs its handler again; unknown ids are 404', async () => {
    const payload = stripeEvent('test.flaky');
    const id = await send(payload);
    await settled(id);
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events/${id}/replay`)).status, 202);
    await waitFor(async () => calls.get(JSON.parse(payload).id) === 2, 'second run');
    assert.equal((await settled(id)).status, 'processed');
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events/ev_missing/replay`)).status, 404);
  });

  test('an event claimed by a worker that died is picked up once its lease expires', async () => {
    await app.worker!.stop(5000); // only the simulated dead worker is around now
    const payload = stripeEvent('customer.created');
    const id = await send(payload);
    const claimed = await claimDueEvents(app.db, 'wrk_dead', 10, 1);
    assert.deepEqual(
      claimed.map((c) => c.id),
      [id],
    );
    // While the lease holds, nobody else may take it.
    assert.deepEqual(await claimDueEvents(app.db, 'wrk_other', 10, 30), []);
    await new Promise((r) => setTimeout(r, 1100));
    const retaken = await claimDueEvents(app.db, 'wrk_other', 10, 30);
    assert.deepEqual(
      retaken.map((c) => c.id),
      [id],
    );
    assert.equal(retaken[0]!.attempts, 2);
  });

  test('a worker whose claim was taken over writes nothing: the new claimant alone projects and publishes', async () => {
    // The worker is stopped by the previous test; two simulated workers race for one event.
    const payload = stripeEvent('customer.created', { email: 'late.worker@example.com' });
    const id = await send(payload);
    const [slow] = await claimDueEvents(app.db, 'wrk_slow', 10, 1);
    assert.equal(slow?.id, id);
    await new Promise((r) => setTimeout(r, 1100)); // the slow worker's lease runs out
    const [fast] = await claimDueEvents(app.db, 'wrk_fast', 10, 30);
    assert.equal(fast?.id, id);

    const providerEventId = (JSON.parse(payload) as { id: string }).id;
    const messages = async () =>
      (
        await app.db.query<{ type: string }>('SELECT type FROM messages WHERE workspace_id = $1 AND source_event_id = $2', [
          ws,
          providerEventId,
        ])
      ).rows;
    const customers = async () =>
      (await app.db.query('SELECT id FROM customers WHERE workspace_id = $1 AND email = $2', [ws, 'late.worker@example.com'])).rows;

    assert.equal(await processEvent(app.ctx, 'wrk_slow', slow!), 'lost');
    assert.deepEqual(await messages(), [], 'the worker that lost its claim published nothing');
    assert.deepEqual(await customers(), [], 'and projected nothing');

    assert.equal(await processEvent(app.ctx, 'wrk_fast', fast!), 'processed');
    assert.deepEqual((await messages()).map((m) => m.type).sort(), ['customer.created', 'stripe.customer.created']);
    assert.equal((await customers()).length, 1);
  });
});
