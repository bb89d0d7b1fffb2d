// Ingest first: while the webhooks of a process have kept its batcher's backlog up for most of the last few hundred
// milliseconds (its pressure), an event worker holds back before its next claim, until the pressure is gone or for
// SLUICE_INGEST_FIRST_MS at most, and no second batch starts. The backlog here is real: webhooks over HTTP whose
// INSERT waits behind a lock the test holds on the events table.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventClaimLimit, extraBatchMayStart, giveWayToIngest, INGEST_PRESSED } from '../../src/jobs/ingest-first.js';
import { BEHIND_BACKLOG } from '../../src/services/ingest/event-batcher.js';
import { eventBatcher, ingestBacklog, ingestPressure } from '../../src/services/ingest/inbound-runtime.js';
import { ingestApp, lockEvents } from '../helpers/locks.js';
import { waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_ingest_first_secret';

describe('ingest first', () => {
  let app: TestApp;
  let ws: string;
  const config = () => app.ctx.config as { ingestFirstMs: number };
  const send = (payload: string) => postStripe(app.url, ws, payload, signStripe(payload, SECRET));

  /** `n` webhooks held before their commit; resolves once they are all waiting (and, when they are enough for
   *  it, once they have been waiting long enough to put ingest under pressure), with their answers to come. */
  async function heldWebhooks(n: number) {
    const lock = lockEvents(app.db);
    await lock.locked;
    const answers = Array.from({ length: n }, () => send(stripeEvent('customer.updated')));
    await waitFor(async () => ingestBacklog(app.ctx) === n, `${n} webhooks waiting for their commit`);
    if (n >= BEHIND_BACKLOG) await waitFor(async () => ingestPressure(app.ctx) >= INGEST_PRESSED, 'ingest under pressure');
    return { lock, answers };
  }

  /** Waits until the pressure of earlier tests has faded. */
  const calm = () => waitFor(async () => ingestPressure(app.ctx) < 0.05, 'no pressure left');

  before(async () => {
    ({ app, ws } = await ingestApp('Ingest first', SECRET));
  });
  after(async () => {
    await app.close();
    await app.store.drop();
  });

  test('a worker waits while ingest is under pressure, and goes on soon after the webhooks are answered', async () => {
    config().ingestFirstMs = 5_000;
    const { lock, answers } = await heldWebhooks(BEHIND_BACKLOG + 4);
    const t0 = performance.now();
    const waiting = giveWayToIngest(app.ctx);
    await new Promise((r) => setTimeout(r, 300));
    await lock.release();
    const waited = await waiting;
    const total = performance.now() - t0;
    for (const a of await Promise.all(answers)) assert.equal(a.status, 200);
    assert.ok(waited >= 250, `held back while the webhooks waited (${waited.toFixed(0)} ms)`);
    assert.ok(total < 2_000, `went on once the pressure faded, long before the limit (${total.toFixed(0)} ms)`);
    assert.equal(ingestBacklog(app.ctx), 0);
  });

  test('the wait is bounded: under pressure that does not end, the worker goes on after SLUICE_INGEST_FIRST_MS', async () => {
    await calm();
    config().ingestFirstMs = 150;
    const { lock, answers } = await heldWebhooks(BEHIND_BACKLOG);
    let waited: number, pressure: number;
    try {
      waited = await giveWayToIngest(app.ctx);
      pressure = ingestPressure(app.ctx);
    } finally {
      await lock.release();
    }
    for (const a of await Promise.all(answers)) assert.equal(a.status, 200);
    assert.ok(pressure >= INGEST_PRESSED, `the pressure was still there (${pressure})`);
    assert.ok(waited >= 140 && waited < 1_000, `went on after about the limit (${waited.toFixed(0)} ms)`);
    const metrics = await app.ctx.metrics.registry.getSingleMetricAsString('sluice_ingest_first_wait_seconds_total');
    assert.ok(Number(/ ([0-9.]+)$/m.exec(metrics)![1]) >= 0.14, metrics);
  });

  test('the bound is per process: two workers waiting under one burst go on one limit apart, not together', async () => {
    await calm();
    config().ingestFirstMs = 200;
    const { lock, answers } = await heldWebhooks(BEHIND_BACKLOG);
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

  test('a second batch starts only while ingest is not under pressure', async () => {
    await calm();
    config().ingestFirstMs = 250;
    // Fewer than the mark waiting, however long: no pressure.
    let held = await heldWebhooks(BEHIND_BACKLOG - 1);
    await new Promise((r) => setTimeout(r, 300));
    const below = extraBatchMayStart(app.ctx);
    await held.lock.release();
    for (const a of await Promise.all(held.answers)) assert.equal(a.status, 200);
    assert.equal(below, true, `${BEHIND_BACKLOG - 1} webhooks waiting is no pressure`);

    held = await heldWebhooks(BEHIND_BACKLOG);
    let during: boolean, switchedOff: boolean;
    try {
      during = extraBatchMayStart(app.ctx);
      config().ingestFirstMs = 0;
      switchedOff = extraBatchMayStart(app.ctx);
      config().ingestFirstMs = 250;
    } finally {
      await held.lock.release();
    }
    for (const a of await Promise.all(held.answers)) assert.equal(a.status, 200);
    assert.equal(during, false, 'no second batch under pressure');
    assert.equal(switchedOff, true, 'under the same pressure, ingest first switched off');
    // How fast the pressure fades is the batcher's (src/services/ingest/event-batcher.test.ts).
    await waitFor(async () => extraBatchMayStart(app.ctx), 'a second batch once the pressure has faded');
  });

  test("the workers' claims: a small first batch under pressure that does not end, none beside it, full ones after", async () => {
    await calm();
    config().ingestFirstMs = 100;
    const { lock, answers } = await heldWebhooks(BEHIND_BACKLOG);
    let first: number, second: number;
    try {
      first = await eventClaimLimit(app.ctx, 0, 100);
      second = await eventClaimLimit(app.ctx, 1, 100);
    } finally {
      await lock.release();
    }
    for (const a of await Promise.all(answers)) assert.equal(a.status, 200);
    assert.equal(first, 25, 'the first batch goes on after the limit, a quarter of the usual size');
    assert.equal(second, 0, 'no second batch beside it');
    await calm();
    assert.equal(await eventClaimLimit(app.ctx, 0, 100), 100, 'no pressure: the usual batch');
    assert.equal(await eventClaimLimit(app.ctx, 1, 100), 100, 'and beside it another');
  });

  test('a few webhooks in flight, or a limit of 0: no wait', async () => {
    await calm();
    config().ingestFirstMs = 5_000;
    for (const [limit, n] of [
      [5_000, BEHIND_BACKLOG - 1],
      [0, BEHIND_BACKLOG + 2],
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
