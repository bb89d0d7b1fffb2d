// An attempt whose claim was given back before it was recorded (a stop's deadline noted it as interrupted, or its
// lease ran out and another sender took the delivery over) is not recorded when its request ends later; nor may it
// move its endpoint's failure clock (failing_since, which disables an endpoint after days and halves its lanes) or
// act on its answer: a stop, not the receiver, cut it off, and the delivery is due again anyway.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { attemptDelivery } from '../../src/services/outbound/attempt-delivery.js';
import { claimDeliveries, giveBackInterruptedDeliveries } from '../../src/services/outbound/claim-deliveries.js';
import type { Sender, SendResult } from '../../src/outbound/send.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

/** A sender whose one request stays out until the test answers it. */
function heldSender() {
  let answer!: (r: SendResult) => void;
  let sent = false;
  const sender: Sender = {
    send: () => {
      sent = true;
      return new Promise<SendResult>((r) => (answer = r));
    },
    close: () => undefined,
  };
  return { sender, sent: () => sent, answer: (r: SendResult) => answer(r) };
}

const CUT_OFF: SendResult = { answered: false, durationMs: 3, error: 'UND_ERR_DESTROYED: The client is destroyed', blocked: false };

describe('a late record of an attempt whose claim was given back', () => {
  let app: TestApp;
  before(async () => {
    // No worker: the test claims and attempts itself.
    app = await startTestApp({ worker: false, config: { outboundAllow: LOOPBACK } });
  });
  after(() => app.close());

  async function oneDelivery(name: string): Promise<{ ws: string; endpointId: string }> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    const ep = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'http://127.0.0.1:9/hook' });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: { n: 1 } })).status, 201);
    return { ws, endpointId: ep.body.id };
  }
  const endpointRow = async (id: string) =>
    (
      await app.db.query<{ failing_since: Date | null; last_success_at: Date | null; state: string }>(
        'SELECT failing_since, last_success_at, state FROM endpoints WHERE id = $1',
        [id],
      )
    ).rows[0]!;
  const attemptLog = async (endpointId: string) =>
    (
      await app.db.query<{ outcome: string; error: string | null; status_code: number | null }>(
        'SELECT outcome, error, status_code FROM delivery_attempts WHERE endpoint_id = $1 ORDER BY started_at, id',
        [endpointId],
      )
    ).rows;

  async function claimOne(workerId: string, endpointId: string) {
    const claimed = (await claimDeliveries(app.ctx, workerId, 100)).filter((d) => d.endpointId === endpointId);
    assert.equal(claimed.length, 1, `${workerId} claimed the delivery`);
    return claimed[0]!;
  }

  test("given back at a stop's deadline: a late failure does not start a healthy endpoint's failure clock", async () => {
    const { endpointId } = await oneDelivery('late failure');
    const held = heldSender();
    const d = await claimOne('dwk_late_failure', endpointId);
    const attempt = attemptDelivery(app.ctx, held.sender, 'dwk_late_failure', d);
    await waitFor(async () => held.sent(), 'the request is out');
    await giveBackInterruptedDeliveries(app.ctx, 'dwk_late_failure', [d.id]);
    held.answer(CUT_OFF); // closing the sender at the stop ends the request
    const outcome = await attempt;
    assert.equal((await endpointRow(endpointId)).failing_since, null, 'the endpoint is not failing: a stop cut the attempt off');
    assert.equal(outcome, 'skipped', 'not recorded: the stop noted it');
    const log = await attemptLog(endpointId);
    assert.equal(log.length, 1, JSON.stringify(log));
    assert.match(log[0]!.error!, /^interrupted: /);
  });

  test('given back at a stop: a late success or 410 neither stops a failing clock nor disables the endpoint', async () => {
    const { endpointId } = await oneDelivery('late success');
    const since = new Date(Date.now() - 86_400_000);
    await app.db.query('UPDATE endpoints SET failing_since = $2 WHERE id = $1', [endpointId, since]);
    for (const [worker, late] of [
      ['dwk_late_ok', { answered: true, status: 200, durationMs: 4, excerpt: 'ok', retryAfter: undefined }],
      ['dwk_late_gone', { answered: true, status: 410, durationMs: 4, excerpt: 'gone', retryAfter: undefined }],
    ] as const) {
      const held = heldSender();
      const d = await claimOne(worker, endpointId);
      const attempt = attemptDelivery(app.ctx, held.sender, worker, d);
      await waitFor(async () => held.sent(), 'the request is out');
      await giveBackInterruptedDeliveries(app.ctx, worker, [d.id]);
      held.answer(late);
      const outcome = await attempt;
      const row = await endpointRow(endpointId);
      assert.equal(row.failing_since?.getTime(), since.getTime(), `${worker}: the failure clock was not stopped by an unrecorded attempt`);
      assert.equal(row.last_success_at, null);
      assert.equal(row.state, 'enabled');
      assert.equal(outcome, 'skipped', worker);
    }
    assert.deepEqual(
      (await attemptLog(endpointId)).map((a) => [a.outcome, a.status_code]),
      [
        ['retry', null],
        ['retry', null],
      ],
    );
  });

  test("taken over after its lease ran out: the stale sender's late failure moves nothing, the new sender's record does", async () => {
    const { endpointId } = await oneDelivery('taken over');
    const stale = heldSender();
    const d = await claimOne('dwk_stale', endpointId);
    const attempt = attemptDelivery(app.ctx, stale.sender, 'dwk_stale', d);
    await waitFor(async () => stale.sent(), 'the request is out');
    await app.db.query(`UPDATE deliveries SET locked_until = now() - interval '1 second' WHERE id = $1`, [d.id]);
    const taken = await claimOne('dwk_new', endpointId);
    assert.ok(taken.takenOver);
    stale.answer(CUT_OFF);
    const outcome = await attempt;
    assert.equal((await endpointRow(endpointId)).failing_since, null, "the stale sender's late failure did not start the clock");
    assert.equal(outcome, 'skipped');

    const fresh = heldSender();
    const next = attemptDelivery(app.ctx, fresh.sender, 'dwk_new', taken);
    await waitFor(async () => fresh.sent(), 'the new request is out');
    fresh.answer({ answered: true, status: 503, durationMs: 2, excerpt: 'down', retryAfter: undefined });
    assert.equal(await next, 'retry');
    assert.notEqual((await endpointRow(endpointId)).failing_since, null, 'a recorded failure starts the clock');
    assert.deepEqual(
      (await attemptLog(endpointId)).map((a) => [a.outcome, a.status_code]),
      [
        ['retry', null],
        ['retry', 503],
      ],
    );
  });
});
