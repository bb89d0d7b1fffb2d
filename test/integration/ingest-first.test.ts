// Ingest first: an event worker in a process whose webhooks are waiting for their commit holds back before its
// next claim, until they are answered or for SLUICE_INGEST_FIRST_MS at most. The backlog here is real: webhooks
// over HTTP whose INSERT waits behind a lock the test holds on the events table.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BURST_QUIET_MS, extraBatchMayStart, giveWayToIngest, INGEST_BEHIND } from '../../src/jobs/ingest-first.js';
import { BURST_BACKLOG } from '../../src/services/ingest/event-batcher.js';
import { eventBatcher, ingestBacklog } from '../../src/services/ingest/inbound-runtime.js';
import { ingestApp, lockEvents } from '../helpers/locks.js';
import { waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_ingest_first_secret';

describe('ingest first', () => {
  let app: TestApp;
  let ws: string;
  const config = () => app.ctx.config as { ingestFirstMs: number };
  const send = (payload: string) => postStripe(app.url, ws, payload, signStripe(payload, SECRET));

  /** `n` webhooks held before their commit; resolves once they are all waiting, with their answers to come. */
  async function heldWebhooks(n: number) {
    const lock = lockEvents(app.db);
    await lock.locked;
    const answers = Array.from({ length: n }, () => send(stripeEvent('customer.updated')));
    await waitFor(async () => ingestBacklog(app.ctx) === n, `${n} webhooks waiting for their commit`);
    return { lock, answers };
  }

  before(async () => {
    ({ app, ws } = await ingestApp('Ingest first', SECRET));
  });
  after(async () => {
    await app.close();
    await app.store.drop();
  });

  test('a worker waits while webhooks wait for their commit, and goes on as soon as they are answered', async () => {
    config().ingestFirstMs = 5_000;
    const { lock, answers } = await heldWebhooks(INGEST_BEHIND + 4);
    const t0 = performance.now();
    const waiting = giveWayToIngest(app.ctx);
    await new Promise((r) => setTimeout(r, 300));
    await lock.release();
    const waited = await waiting;
    const total = performance.now() - t0;
    for (const a of await Promise.all(answers)) assert.equal(a.status, 200);
    assert.ok(waited >= 250, `held back while the webhooks waited (${waited.toFixed(0)} ms)`);
    assert.ok(total < 2_000, `went on once they were answered, long before the limit (${total.toFixed(0)} ms)`);
    assert.equal(ingestBacklog(app.ctx), 0);
  });

  test('the wait is bounded: under a backlog that does not clear, the worker goes on after SLUICE_INGEST_FIRST_MS', async () => {
    config().ingestFirstMs = 150;
    const { lock, answers } = await heldWebhooks(INGEST_BEHIND);
    let waited: number, backlog: number;
    try {
      waited = await giveWayToIngest(app.ctx);
      backlog = ingestBacklog(app.ctx);
    } finally {
      await lock.release();
    }
    for (const a of await Promise.all(answers)) assert.equal(a.status, 200);
    assert.ok(backlog >= INGEST_BEHIND, 'the backlog was still there');
    assert.ok(waited >= 140 && waited < 1_000, `went on after about the limit (${waited.toFixed(0)} ms)`);
    const metrics = await app.ctx.metrics.registry.getSingleMetricAsString('sluice_ingest_first_wait_seconds_total');
    assert.ok(Number(/ ([0-9.]+)$/m.exec(metrics)![1]) >= 0.14, metrics);
  });

  test('the bound is per process: two workers waiting under one burst go on one limit apart, not together', async () => {
    config().ingestFirstMs = 200;
    const { lock, answers } = await heldWebhooks(INGEST_BEHIND);
    let waits: number[];
    try {
      waits = await Promise.all([giveWayToIngest(app.ctx), giveWayToIngest(app.ctx)]);
    } finally {
      await lock.release();
    }
    for (const a of await Promise.all(answers)) assert.equal(a.status, 200);
    const [first, second] = waits.sort((a, b) => a - b) as [number, number];
    assert.ok(first >= 190 && first < 1_000, `the first went on after about the limit (${first.toFixed(0)} ms)`);
    assert.ok(second >= first + 190, `the second one limit later (${second.toFixed(0)} ms)`);
  });

  test('a second batch starts only once no burst of webhooks has arrived for a while', async () => {
    // Steady traffic: fewer than a burst waiting at once.
    let held = await heldWebhooks(BURST_BACKLOG - 1);
    assert.equal(extraBatchMayStart(app.ctx), true, `${BURST_BACKLOG - 1} webhooks waiting is no burst`);
    await held.lock.release();
    for (const a of await Promise.all(held.answers)) assert.equal(a.status, 200);

    held = await heldWebhooks(BURST_BACKLOG);
    let during: boolean;
    try {
      during = extraBatchMayStart(app.ctx);
    } finally {
      await held.lock.release();
    }
    for (const a of await Promise.all(held.answers)) assert.equal(a.status, 200);
    assert.equal(during, false, 'no second batch while a burst waits');
    // Answered, but only just: still no second batch until the burst is BURST_QUIET_MS behind.
    assert.equal(ingestBacklog(app.ctx), 0);
    assert.equal(extraBatchMayStart(app.ctx), false, 'no second batch right after a burst');
    config().ingestFirstMs = 0;
    assert.equal(extraBatchMayStart(app.ctx), true, 'ingest first switched off');
    config().ingestFirstMs = 250;
    await new Promise((r) => setTimeout(r, BURST_QUIET_MS + 20));
    assert.equal(extraBatchMayStart(app.ctx), true, 'a second batch once the burst is over');
  });

  test('a few webhooks in flight, or a limit of 0: no wait', async () => {
    config().ingestFirstMs = 5_000;
    for (const [limit, n] of [
      [5_000, INGEST_BEHIND - 1],
      [0, INGEST_BEHIND + 2],
    ] as const) {
      config().ingestFirstMs = limit;
      const { lock, answers } = await heldWebhooks(n);
      let waited: number;
      try {
        waited = await giveWayToIngest(app.ctx);
      } finally {
        await lock.release();
      }
      for (const a of await Promise.all(answers)) assert.equal(a.status, 200);
      assert.equal(waited, 0, `${n} webhooks waiting, limit ${limit} ms`);
    }
    assert.equal(eventBatcher(app.ctx).stats.failedFlushes, 0);
  });
});
