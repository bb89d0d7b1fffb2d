// The leased queue and its runner, on the events and deliveries tables: a batch where one event is poisoned,
// several workers (and processes) on one queue, a lease taken over mid-batch, and a blackholed endpoint
// beside a healthy one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findHandler } from '../../src/crm/handlers.js';
import { claimDueEvents, EVENT_QUEUE } from '../../src/db/queries/events.js';
import { CLAIM_PLANNER, holdClaims, liveLeaseKeys, refreshQueueStatistics } from '../../src/db/queries/queue.js';
import { startEventWorker } from '../../src/jobs/event-worker.js';
import { giveBackClaims, renewClaims } from '../../src/services/processing/claim-events.js';
import { processBatch } from '../../src/services/processing/process-batch.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import type { Db } from '../../src/db/port.js';
import { createTestStore, openMigrated, usingPostgres, type TestStore } from '../helpers/db.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { processApi, startSluiceProcess, type SluiceProcess } from '../helpers/sluice-process.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_queue_test_secret';
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

describe('event queue', () => {
  let app: TestApp;
  let ws: string;
  const runs = new Map<string, number>(); // event id -> handler runs

  before(async () => {
    app = await startTestApp({
      worker: false,
      config: { processingRetrySchedule: [60] },
      findHandler: (provider, type) => {
        const real = findHandler(provider, type === 'customer.poisoned' ? 'customer.created' : type);
        if (!real) return undefined;
        return async (tx, event, options) => {
          runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
          await real(tx, event, options);
          // Projected its customer, then hits content the database refuses: all of its writes must go.
          if (type === 'customer.poisoned') await tx.query(`SELECT 'not a number'::int`);
        };
      },
    });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Queue' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
  });
  after(() => app.close());

  async function send(type: string, object: Record<string, unknown>): Promise<string> {
    const payload = stripeEvent(type, object);
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    const { rows } = await app.db.query<{ id: string }>('SELECT id FROM events WHERE workspace_id = $1 AND provider_event_id = $2', [
      ws,
      JSON.parse(payload).id,
    ]);
    return rows[0]!.id;
  }
  const customer = (email: string) => ({ id: `cus_${email.split('@')[0]}`, object: 'customer', email });
  const customersWith = async (emails: string[]) =>
    (
      await app.db.query<{ email: string }>('SELECT email FROM customers WHERE workspace_id = $1 AND email = ANY($2) ORDER BY email', [
        ws,
        emails,
      ])
    ).rows.map((r) => r.email);
  const eventRow = async (id: string) =>
    (
      await app.db.query<{ status: string; error: string | null; attempts: number }>(
        'SELECT status, error, attempts FROM events WHERE id = $1',
        [id],
      )
    ).rows[0]!;

  test('a batch with one poisoned event: that one fails with its reason, the others are projected and committed', async () => {
    const good = ['ada@example.com', 'alan@example.com', 'edsger@example.com'];
    const ids = [
      await send('customer.created', customer(good[0]!)),
      await send('customer.poisoned', customer('mallory@example.com')),
      await send('customer.created', customer(good[1]!)),
      await send('customer.created', customer(good[2]!)),
    ];
    const batch = await claimDueEvents(app.db, 'wrk_batch', 10, 30);
    assert.deepEqual(batch.map((e) => e.id).sort(), [...ids].sort(), 'one claim, one batch');

    const outcomes = await processBatch(app.ctx, 'wrk_batch', batch);
    assert.deepEqual(
      ids.map((id) => outcomes.get(id)),
      ['processed', 'failed', 'processed', 'processed'],
    );
    assert.deepEqual(await customersWith([...good, 'mallory@example.com']), [...good].sort(), 'the poisoned customer row was rolled back');
    const poisoned = await eventRow(ids[1]!);
    assert.equal(poisoned.status, 'failed');
    assert.match(poisoned.error ?? '', /wrong form for its column/);
    for (const id of [ids[0]!, ids[2]!, ids[3]!]) assert.equal((await eventRow(id)).status, 'processed');
    // The poisoned event's messages went with its savepoint; the others' were published.
    const { rows } = await app.db.query<{ source_event_id: string; type: string }>(
      `SELECT m.type, m.source_event_id FROM messages m WHERE m.workspace_id = $1 AND m.type = 'customer.created'`,
      [ws],
    );
    assert.equal(rows.length, 3);
  });

  test('a batch whose shared writes the database refuses (a price out of range) runs again; only that event fails', async () => {
    const subscription = (id: string, intervalCount: number) => ({
      id,
      object: 'subscription',
      customer: `cus_${id}`,
      status: 'active',
      items: {
        object: 'list',
        data: [
          {
            id: `si_${id}`,
            price: {
              id: `price_${id}`,
              object: 'price',
              product: `prod_${id}`,
              unit_amount: 500,
              currency: 'eur',
              recurring: { interval: 'month', interval_count: intervalCount },
            },
          },
        ],
      },
    });
    const ids = [
      await send('customer.subscription.created', subscription('sub_ok1', 1)),
      // The price stub this event needs cannot be stored (interval_count is an int column).
      await send('customer.subscription.created', subscription('sub_huge', 99_999_999_999)),
      await send('customer.subscription.created', subscription('sub_ok2', 3)),
    ];
    const batch = await claimDueEvents(app.db, 'wrk_range', 10, 30);
    assert.deepEqual(batch.map((e) => e.id).sort(), [...ids].sort(), 'one claim, one batch');
    const reruns = async () => (await app.ctx.metrics.eventBatchReruns.get()).values[0]?.value ?? 0;
    const before = await reruns();
    const outcomes = await processBatch(app.ctx, 'wrk_range', batch);
    assert.deepEqual(
      ids.map((id) => outcomes.get(id)),
      ['processed', 'failed', 'processed'],
    );
    assert.equal(await reruns(), before + 1, 'the batch ran a second time, with savepoints');
    const { rows } = await app.db.query<{ provider_id: string; recurring_interval_count: number }>(
      `SELECT provider_id, recurring_interval_count FROM prices WHERE workspace_id = $1 AND provider_id LIKE 'price_sub_%' ORDER BY provider_id`,
      [ws],
    );
    assert.deepEqual(rows, [
      { provider_id: 'price_sub_ok1', recurring_interval_count: 1 },
      { provider_id: 'price_sub_ok2', recurring_interval_count: 3 },
    ]);
    assert.match((await eventRow(ids[1]!)).error ?? '', /out of range|too large|wrong form/);
    const created = await app.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM messages WHERE workspace_id = $1 AND type = 'subscription.created'
         AND data->'subscription'->>'providerId' IN ('sub_ok1', 'sub_ok2', 'sub_huge')`,
      [ws],
    );
    assert.equal(created.rows[0]!.n, 2, 'the refused event published nothing');
  });

  test('one batch, one payment: the charge sees the payment.succeeded its invoice queued earlier in the batch', async () => {
    // Paid out of band (no payment intent named), so the invoice publishes under its own key and the charge must
    // find that message among the batch's queued ones to not publish the payment a second time.
    const ids = [
      await send('invoice.paid', {
        id: 'in_batch1',
        object: 'invoice',
        customer: 'cus_batchpay',
        status: 'paid',
        amount_paid: 500,
        amount_due: 500,
        currency: 'eur',
      }),
      await send('charge.succeeded', {
        id: 'ch_batch1',
        object: 'charge',
        customer: 'cus_batchpay',
        invoice: 'in_batch1',
        status: 'succeeded',
        paid: true,
        amount: 500,
        currency: 'eur',
      }),
    ];
    const batch = await claimDueEvents(app.db, 'wrk_pay', 10, 30);
    assert.deepEqual(batch.map((e) => e.id).sort(), [...ids].sort(), 'one claim, one batch');
    const outcomes = await processBatch(app.ctx, 'wrk_pay', batch);
    assert.deepEqual(
      ids.map((id) => outcomes.get(id)),
      ['processed', 'processed'],
    );
    const { rows } = await app.db.query<{ dedupe_key: string }>(
      `SELECT dedupe_key FROM messages WHERE workspace_id = $1 AND type = 'payment.succeeded' AND source_event_id IN ($2, $3)`,
      [
        ws,
        ...(await Promise.all(
          ids.map(
            async (id) => (await app.db.query<{ p: string }>('SELECT provider_event_id AS p FROM events WHERE id = $1', [id])).rows[0]!.p,
          ),
        )),
      ],
    );
    assert.deepEqual(
      rows.map((r) => r.dedupe_key),
      ['payment.succeeded:invoice:in_batch1'],
    );
    // Both events are on the timeline of the one customer the batch ensured for them.
    const links = await app.db.query<{ n: number; customers: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT customer_id)::int AS customers FROM customer_events WHERE event_id = ANY($1::text[])`,
      [ids],
    );
    assert.deepEqual(links.rows[0], { n: 2, customers: 1 });
  });

  test('a lease taken over mid-batch: the first worker writes nothing for that event, the rest of its batch commits', async () => {
    const emails = ['grace@example.com', 'barbara@example.com', 'frances@example.com'];
    const ids = [];
    for (const e of emails) ids.push(await send('customer.created', customer(e)));
    const slow = await claimDueEvents(app.db, 'wrk_slow', 10, 1);
    assert.equal(slow.length, 3);
    // The slow worker keeps two of its claims alive; the third's lease runs out and another worker takes it.
    await renewClaims({ ...app.ctx, config: { ...app.ctx.config, workerLeaseSeconds: 30 } }, 'wrk_slow', [ids[0]!, ids[1]!]);
    await new Promise((r) => setTimeout(r, 1100));
    const fast = await claimDueEvents(app.db, 'wrk_fast', 10, 30);
    assert.deepEqual(
      fast.map((e) => e.id),
      [ids[2]],
    );

    const before = runs.get(ids[2]!) ?? 0;
    const outcomes = await processBatch(app.ctx, 'wrk_slow', slow);
    assert.deepEqual(
      ids.map((id) => outcomes.get(id)),
      ['processed', 'processed', 'lost'],
    );
    assert.equal(runs.get(ids[2]!) ?? 0, before, 'the lost event was not even run');
    assert.deepEqual(await customersWith([emails[2]!]), [], 'nothing written for the event taken over');
    assert.equal((await eventRow(ids[2]!)).status, 'received');

    assert.deepEqual([...(await processBatch(app.ctx, 'wrk_fast', fast)).values()], ['processed']);
    assert.deepEqual(await customersWith([emails[2]!]), [emails[2]]);
  });

  test('a claim that died without a finish still counts: the next claim sees the attempt, a release gives back only its own', async () => {
    const id = await send('customer.created', customer('dijkstra@example.com'));
    // A worker claims it and dies: the lease (1 s) runs out with no finish and no release.
    assert.deepEqual(
      (await claimDueEvents(app.db, 'wrk_dead', 10, 1)).map((e) => [e.id, e.attempts]),
      [[id, 1]],
    );
    await new Promise((r) => setTimeout(r, 1100));
    // The next claim takes the lease over and counts the dead worker's attempt.
    const second = await claimDueEvents(app.db, 'wrk_next', 10, 30);
    assert.deepEqual(
      second.map((e) => [e.id, e.attempts]),
      [[id, 2]],
    );
    // A graceful release hands back this claim's attempt only: the dead worker's stays on the event.
    await giveBackClaims(app.ctx, 'wrk_next', [id]);
    assert.equal((await eventRow(id)).attempts, 1);
    const third = await claimDueEvents(app.db, 'wrk_last', 10, 30);
    assert.deepEqual(
      third.map((e) => [e.id, e.attempts]),
      [[id, 2]],
    );
    // The finish writes the attempts the lease counted to the event, and the lease is gone.
    assert.deepEqual([...(await processBatch(app.ctx, 'wrk_last', third)).values()], ['processed']);
    assert.deepEqual(await eventRow(id), { status: 'processed', error: null, attempts: 2 });
    assert.equal((await app.db.query('SELECT 1 FROM event_leases WHERE id = $1', [id])).rows.length, 0);
  });

  test('the lease heartbeat never waits for a batch holding some of its rows, and renews them all', async () => {
    const ids = [
      await send('customer.created', customer('hopper@example.com')),
      await send('customer.created', customer('liskov@example.com')),
    ];
    const claimed = await claimDueEvents(app.db, 'wrk_beat', 10, 30);
    assert.equal(claimed.length, 2);
    const leaseOf = async (id: string) =>
      Number(
        (await app.db.query<{ s: number }>('SELECT extract(epoch FROM until - now())::float8 AS s FROM event_leases WHERE id = $1', [id]))
          .rows[0]!.s,
      );
    // A lane's batch transaction holds the first event (as processBatch does) and stays open.
    let finishBatch!: () => void;
    const batchOpen = new Promise<void>((resolve) => (finishBatch = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const batch = app.db.transaction(async (tx) => {
      assert.equal((await holdClaims(tx, EVENT_QUEUE, 'wrk_beat', [ids[0]!])).size, 1);
      held();
      await batchOpen;
    });
    await holding;
    try {
      // Before: the heartbeat waited for the batch to commit (and, locking in its own order beside a batch
      // locking in id order, could deadlock with it).
      const beat = renewClaims({ ...app.ctx, config: { ...app.ctx.config, workerLeaseSeconds: 600 } }, 'wrk_beat', ids).then(() => 'done');
      assert.equal(await Promise.race([beat, new Promise((r) => setTimeout(() => r('still waiting'), 3000))]), 'done');
      // The batch locks the event's row; its lease is a row of its own, free to renew.
      assert.ok((await leaseOf(ids[1]!)) > 500, 'the free row got its new lease');
      assert.ok((await leaseOf(ids[0]!)) > 500, 'the row the batch holds got its new lease too');
    } finally {
      finishBatch();
      await batch;
    }
    assert.deepEqual([...(await processBatch(app.ctx, 'wrk_beat', claimed)).values()], ['processed', 'processed']);
  });

  test('two workers of two lanes each on one queue never run one event twice', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await send('customer.created', customer(`twice${i}@example.com`)));
    const ctx = { ...app.ctx, config: { ...app.ctx.config, eventWorkers: 2, workerBatchSize: 3, workerPollMs: 10 } };
    const workers = [startEventWorker(ctx), startEventWorker(ctx)];
    try {
      await waitFor(async () => {
        const { rows } = await app.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM events WHERE id = ANY($1) AND status = 'processed'`,
          [ids],
        );
        return rows[0]!.n === ids.length;
      }, 'all 40 processed');
    } finally {
      await Promise.all(workers.map((w) => w.stop(5000)));
    }
    assert.deepEqual(
      ids.filter((id) => runs.get(id) !== 1),
      [],
      'each event ran exactly once',
    );
    const { rows } = await app.db.query<{ attempts: number }>('SELECT DISTINCT attempts FROM events WHERE id = ANY($1)', [ids]);
    assert.deepEqual(
      rows.map((r) => r.attempts),
      [1],
    );
  });

  test('per-object order: a later event of an object another worker holds waits until that worker is done', async () => {
    const first = await send('customer.created', customer('order@example.com'));
    const later = await send('customer.updated', { ...customer('order@example.com'), name: 'Renamed' });
    const other = await send('customer.created', customer('other@example.com'));
    const a = await claimDueEvents(app.db, 'wrk_a', 1, 30);
    assert.deepEqual(
      a.map((e) => e.id),
      [first],
    );
    const b = await claimDueEvents(app.db, 'wrk_b', 10, 30);
    assert.deepEqual(
      b.map((e) => e.id),
      [other],
      'the object wrk_a holds is skipped, other objects are not',
    );
    await processBatch(app.ctx, 'wrk_a', a);
    const b2 = await claimDueEvents(app.db, 'wrk_b', 10, 30);
    assert.deepEqual(
      b2.map((e) => e.id),
      [later],
    );
    await processBatch(app.ctx, 'wrk_b', [...b, ...b2]);
  });

  test('an invoice payment names no customer: it waits while its charge or its invoice is held, and they wait for it', async () => {
    const charge = await send('charge.succeeded', {
      id: 'ch_inpay1',
      object: 'charge',
      customer: 'cus_inpay',
      payment_intent: 'pi_inpay1',
      status: 'succeeded',
    });
    const invoicePayment = await send('invoice_payment.paid', {
      id: 'inpay_1',
      object: 'invoice_payment',
      invoice: 'in_inpay1',
      status: 'paid',
      payment: { type: 'payment_intent', payment_intent: { id: 'pi_inpay1', object: 'payment_intent' } },
    });
    const invoice = await send('invoice.paid', { id: 'in_inpay1', object: 'invoice', customer: 'cus_inpay', status: 'paid' });
    const stranger = await send('charge.succeeded', { id: 'ch_inpay_other', object: 'charge', customer: 'cus_inpay_stranger' });

    const a = await claimDueEvents(app.db, 'wrk_ip_a', 1, 30);
    assert.deepEqual(
      a.map((e) => e.id),
      [charge],
    );
    const b = await claimDueEvents(app.db, 'wrk_ip_b', 10, 30);
    assert.deepEqual(
      b.map((e) => e.id),
      [stranger],
      'the invoice payment waits for the charge of its payment intent (an expanded reference), the invoice for its customer',
    );
    await processBatch(app.ctx, 'wrk_ip_a', a);
    const c = await claimDueEvents(app.db, 'wrk_ip_a', 1, 30);
    assert.deepEqual(
      c.map((e) => e.id),
      [invoicePayment],
    );
    const d = await claimDueEvents(app.db, 'wrk_ip_b', 10, 30);
    assert.deepEqual(
      d.map((e) => e.id),
      [],
      'the invoice waits for the invoice payment that names it',
    );
    await processBatch(app.ctx, 'wrk_ip_a', c);
    const e = await claimDueEvents(app.db, 'wrk_ip_b', 10, 30);
    assert.deepEqual(
      e.map((x) => x.id),
      [invoice],
    );
    await processBatch(app.ctx, 'wrk_ip_b', [...b, ...e]);
  });

  test('per-customer order: events of other objects of a held customer (one payment: invoice, charge) wait too', async () => {
    const invoice = await send('invoice.paid', { id: 'in_pay1', object: 'invoice', customer: 'cus_payer', status: 'paid' });
    const charge = await send('charge.succeeded', { id: 'ch_pay1', object: 'charge', customer: 'cus_payer', invoice: 'in_pay1' });
    const stranger = await send('charge.succeeded', { id: 'ch_other1', object: 'charge', customer: 'cus_stranger' });
    const a = await claimDueEvents(app.db, 'wrk_pay_a', 1, 30);
    assert.deepEqual(
      a.map((e) => e.id),
      [invoice],
    );
    const b = await claimDueEvents(app.db, 'wrk_pay_b', 10, 30);
    assert.deepEqual(
      b.map((e) => e.id),
      [stranger],
      'the charge of the customer wrk_pay_a holds waits, although it is another object',
    );
    await processBatch(app.ctx, 'wrk_pay_a', a);
    const b2 = await claimDueEvents(app.db, 'wrk_pay_b', 10, 30);
    assert.deepEqual(
      b2.map((e) => e.id),
      [charge],
    );
    await processBatch(app.ctx, 'wrk_pay_b', [...b, ...b2]);
  });
});

describe('event queue shared by two processes', { skip: !usingPostgres && 'two processes need a PostgreSQL server' }, () => {
  const TOKEN = 'queue_test_admin_token_0123456789';
  const procs: SluiceProcess[] = [];
  let store: TestStore;
  let db: Db;
  before(async () => {
    store = await createTestStore();
  });
  after(async () => {
    for (const p of procs) p.proc.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await db?.close();
    await store.drop();
  });

  test('two worker processes drain one queue; every event claimed once and processed once', { timeout: 120_000 }, async () => {
    const env = {
      ...store.env,
      SLUICE_SECRET_KEY: 'queue-test-master-key-0123456789abcdef',
      SLUICE_ADMIN_TOKEN: TOKEN,
      SLUICE_EVENT_WORKERS: '2',
      SLUICE_WORKER_BATCH: '4',
      SLUICE_WORKER_POLL_MS: '10',
    };
    const api = await startSluiceProcess(env, ['--role', 'api']);
    procs.push(api);
    db = await store.open();
    const call = processApi(TOKEN);
    const ws = (await call(api.url, 'POST', '/workspaces', { name: 'Two processes' })).body.id;
    await call(api.url, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    for (let i = 0; i < 2; i++) procs.push(await startSluiceProcess(env, ['--role', 'worker']));
    const N = 80;
    for (let i = 0; i < N; i++) {
      const payload = stripeEvent('customer.created', { id: `cus_two_${i}`, object: 'customer', email: `two${i}@example.com` });
      assert.equal((await postStripe(api.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    }
    const rows = await waitFor(
      async () => {
        const { rows } = await db.query<{ status: string; attempts: number }>(
          'SELECT status, attempts FROM events WHERE workspace_id = $1',
          [ws],
        );
        return rows.length === N && rows.every((r) => r.status !== 'received') && rows;
      },
      'all 80 processed by the two processes',
      60_000,
    );
    assert.deepEqual(
      rows.filter((r) => r.status !== 'processed' || r.attempts !== 1),
      [],
      'each processed at its first and only claim',
    );
    const { rows: msgs } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM messages WHERE workspace_id = $1 AND type = 'customer.created'`,
      [ws],
    );
    assert.equal(msgs[0]!.n, N);
  });
});

describe('delivery queue with several dead endpoints', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  before(async () => {
    // Four lanes, four per endpoint: one dead endpoint alone can take every lane. A timed-out attempt retries in a
    // minute, so nothing it sends again can blur what is counted below.
    app = await startTestApp({
      config: { outboundAllow: LOOPBACK, outboundTimeoutMs: 2500, outboundConcurrency: 4, endpointConcurrency: 4, retrySchedule: [0, 60] },
    });
  });
  after(async () => {
    await app.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  test("the lanes go round the endpoints, and a failing one gets two: dead endpoints' backlog does not come first", async () => {
    const deadA = await startReceiver(() => 'hang');
    const deadB = await startReceiver(() => 'hang');
    const healthy = await startReceiver();
    receivers.push(deadA, deadB, healthy);
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Dead endpoints' })).body.id;
    const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
    for (const r of [deadA, deadB]) assert.equal((await call('POST', '/endpoints', { url: r.url, eventTypes: ['dead.*'] })).status, 201);
    assert.equal((await call('POST', '/endpoints', { url: healthy.url, eventTypes: ['live.*'] })).status, 201);
    // Twelve to the dead endpoints first, then three to the healthy one: oldest first, the healthy endpoint would
    // wait for three rounds of timeouts, until every dead delivery had been tried.
    for (let i = 0; i < 6; i++) assert.equal((await call('POST', '/events', { type: 'dead.ping', data: { i } })).status, 201);
    // Every lane busy with a dead endpoint before the healthy one has anything queued: otherwise a lane left free
    // while the dead deliveries were still being created serves the healthy endpoint at once, before any timeout,
    // and the test would show nothing about failing endpoints.
    await waitFor(async () => deadA.requests.length + deadB.requests.length >= 4, 'all four lanes on the dead endpoints', 20_000);
    for (let i = 0; i < 3; i++) assert.equal((await call('POST', '/events', { type: 'live.ping', data: { i } })).status, 201);
    let deadSent = 0;
    await waitFor(
      async () => {
        deadSent = deadA.requests.length + deadB.requests.length;
        return healthy.requests.length === 3;
      },
      'three deliveries at the healthy endpoint',
      20_000,
    );
    // The first round (four to one dead endpoint), then one lane each per endpoint: the healthy one is served in
    // the second round, not after the fourth.
    assert.ok(deadSent <= 8, `${deadSent} requests to the dead endpoints before the healthy one was served`);
    const failing = await app.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM endpoints WHERE workspace_id = $1 AND failing_since IS NOT NULL`,
      [ws],
    );
    assert.ok(failing.rows[0]!.n >= 1, 'a dead endpoint is failing by then');
  });
});

describe('delivery queue', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  before(async () => {
    // Four in flight per process, two per endpoint: the blackhole can take only half of the sender.
    app = await startTestApp({
      config: { outboundAllow: LOOPBACK, outboundTimeoutMs: 60_000, outboundConcurrency: 4, endpointConcurrency: 2 },
    });
  });
  after(async () => {
    await app.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  test('a blackholed endpoint holds only its own slots: every delivery to the healthy one succeeds meanwhile', async () => {
    const blackhole = await startReceiver(() => 'hang');
    const healthy = await startReceiver();
    receivers.push(blackhole, healthy);
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Blackhole' })).body.id;
    const dead = (await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${blackhole.url}/hook` })).body.id;
    const alive = (await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${healthy.url}/hook` })).body.id;
    for (let i = 0; i < 30; i++) {
      assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: { i } })).status, 201);
    }
    const deliveries = (endpointId: string) =>
      app.db.query<{ status: string }>('SELECT status FROM deliveries WHERE endpoint_id = $1', [endpointId]).then((r) => r.rows);
    await waitFor(async () => {
      const rows = await deliveries(alive);
      return rows.length === 30 && rows.every((r) => r.status === 'succeeded');
    }, 'all 30 delivered to the healthy endpoint');
    assert.equal(new Set(healthy.requests.map((r) => r.headers['webhook-id'])).size, 30);
    // Meanwhile the blackhole got its two slots and no more; nothing of it is settled.
    assert.equal(blackhole.requests.length, 2);
    assert.deepEqual(
      (await deliveries(dead)).filter((r) => r.status !== 'pending'),
      [],
    );
  });

  test('a slow receiver never has more requests open than the endpoint concurrency', async () => {
    // Each request is answered after 150 ms; `open` counts those not yet answered (its decrement is scheduled before
    // the answer, so it never counts an answered request).
    let open = 0;
    let most = 0;
    const slow = await startReceiver(() => {
      open += 1;
      most = Math.max(most, open);
      setTimeout(() => (open -= 1), 150);
      return { status: 200, delayMs: 150 };
    });
    receivers.push(slow);
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Slow' })).body.id;
    const ep = (await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${slow.url}/hook` })).body.id;
    for (let i = 0; i < 12; i++) {
      assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: { i } })).status, 201);
    }
    await waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE endpoint_id = $1 AND status = 'succeeded'`,
        [ep],
      );
      return rows[0]!.n === 12;
    }, 'all 12 delivered');
    assert.equal(slow.requests.length, 12);
    assert.equal(most, 2, 'two requests open at once at most, and the two slots used');
  });
});

describe('queue statistics', () => {
  test('a queue table that outgrew the statistics it was planned with is analysed again, once', async () => {
    const store = await createTestStore();
    const db = await openMigrated(store);
    try {
      const tuples = async () =>
        Number((await db.query<{ n: number }>(`SELECT reltuples AS n FROM pg_class WHERE oid = to_regclass('events')`)).rows[0]!.n);
      await db.exec(`INSERT INTO workspaces (id, name) VALUES ('ws_stats', 'Stats')`);
      assert.ok((await tuples()) <= 0, 'planned as empty');
      // A burst the statistics have not seen: the claims would be planned as if the queue were empty.
      await db.exec(`
        INSERT INTO events (id, workspace_id, provider, provider_event_id, type, payload, raw_body)
        SELECT 'ev_' || g, 'ws_stats', 'stripe', 'evt_' || g, 'customer.created', '{"data":{"object":{"id":"cus"}}}', '{}'
        FROM generate_series(1, 3000) g;
        SELECT pg_stat_force_next_flush();`);
      await waitFor(
        async () =>
          Number(
            (await db.query<{ n: number }>(`SELECT n_mod_since_analyze AS n FROM pg_stat_user_tables WHERE relid = to_regclass('events')`))
              .rows[0]?.n ?? 0,
          ) >= 3000,
        'the inserts counted',
      );
      assert.equal(await refreshQueueStatistics(db, EVENT_QUEUE), true);
      assert.equal(await tuples(), 3000, 'the planner now knows the queue holds 3,000 rows');
      // The workspace and provider are placed too: "the failed events of a workspace" (a parity check's question)
      // is answered from a few pages of the (workspace, provider, status) index, not by walking an index over all
      // 3,000 events of the workspace (42 pages when only the status was analysed).
      const plan = (
        await db.query<{ 'QUERY PLAN': unknown }>(
          `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM events
           WHERE workspace_id = 'ws_stats' AND provider = ANY('{stripe,piano}'::text[]) AND status = 'failed'`,
        )
      ).rows[0]!['QUERY PLAN'];
      const top = (typeof plan === 'string' ? JSON.parse(plan) : plan) as { Plan: Record<string, number> }[];
      const pages = top[0]!.Plan['Shared Hit Blocks']! + top[0]!.Plan['Shared Read Blocks']!;
      assert.ok(pages <= 12, `${pages} pages read for no failed event: ${JSON.stringify(top)}`);
      await db.exec('SELECT pg_stat_force_next_flush()');
      assert.equal(await refreshQueueStatistics(db, EVENT_QUEUE), false, 'nothing changed since: not analysed again');
    } finally {
      await db.close();
      await store.drop();
    }
  });

  test("a claim finds the live leases' keys without reading the leases finished since the last vacuum", async () => {
    const store = await createTestStore();
    const db = await openMigrated(store);
    try {
      // 5,000 events claimed and finished: their leases deleted, and no vacuum since (autovacuum looks once a minute).
      await db.exec(`
        INSERT INTO workspaces (id, name) VALUES ('ws_leases', 'Leases');
        INSERT INTO events (id, workspace_id, provider, provider_event_id, type, payload, raw_body)
        SELECT 'ev_' || g, 'ws_leases', 'stripe', 'evt_' || g, 'customer.created', '{"data":{"object":{"id":"cus"}}}', '{}'
        FROM generate_series(1, 5001) g;
        INSERT INTO event_leases (id, worker, until, keys, attempts)
        SELECT 'ev_' || g, 'w1', now() + interval '30 seconds', ARRAY['ws_leases:cus_' || g], 1 FROM generate_series(1, 5001) g;
        DELETE FROM event_leases WHERE id <> 'ev_5001';`);
      const pagesRead = async () =>
        db.transaction(async (tx) => {
          await tx.query(`SELECT ${CLAIM_PLANNER}`);
          const plan = (
            await tx.query<{ 'QUERY PLAN': unknown }>(
              `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT ARRAY(${liveLeaseKeys('event_leases')})`,
            )
          ).rows[0]!['QUERY PLAN'];
          const top = (typeof plan === 'string' ? JSON.parse(plan) : plan) as { Plan: Record<string, number> }[];
          return top[0]!.Plan['Shared Hit Blocks']! + top[0]!.Plan['Shared Read Blocks']!;
        });
      const keys = (await db.query<{ k: string[] }>(`SELECT ARRAY(${liveLeaseKeys('event_leases')}) AS k`)).rows[0]!.k;
      assert.deepEqual(keys, ['ws_leases:cus_5001'], 'the one live lease');
      await pagesRead(); // the first look finds the deleted leases' index entries dead, and marks them so
      const pages = await pagesRead();
      // Read whole, the lease table is about 60 pages here, and grows with the traffic since the last vacuum.
      assert.ok(pages <= 8, `${pages} pages read to find one live lease among 5,000 deleted`);
    } finally {
      await db.close();
      await store.drop();
    }
  });
});
