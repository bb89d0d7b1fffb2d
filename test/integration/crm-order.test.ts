// Attacks on the Stripe → CRM projection the way real provider traffic behaves: every delivery order of one
// object's events, in one batch and one event per batch, same-second ties, duplicates, replays after newer
// events, entitlement summaries out of order, two workspaces sharing provider ids, and a poisoned event among
// good ones. The final rows must be what the newest event says, whatever the order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { claimDueEvents } from '../../src/db/queries/events.js';
import { processBatch } from '../../src/services/processing/process-batch.js';
import { processEvent } from '../../src/services/processing/process-event.js';
import { findHandler } from '../../src/crm/handlers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_crm_order_secret';
const T0 = 1_790_000_000;

/** Every permutation of `items`. */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

/** Five events' orders to deliver them in: every order in one batch; one by one (a drain per event, five times the
 *  work) every fifth order, which still puts each event first, last and in between. */
function orderings<T>(events: T[]): Array<['one batch' | 'one by one', T[]]> {
  const all = permutations(events);
  return [
    ...all.map((order) => ['one batch', order] as ['one batch', T[]]),
    ...all.filter((_, i) => i % 5 === 0).map((order) => ['one by one', order] as ['one by one', T[]]),
  ];
}

/** A succeeded charge of 1,000 (customer cus_of_<id>) with `refunded` of it refunded, as charge events carry it. */
function refundedCharge(id: string, refunded: number) {
  return {
    id,
    object: 'charge',
    customer: id === 'ch_refund' ? 'cus_refund' : `cus_of_${id}`,
    payment_intent: `pi_of_${id}`,
    status: 'succeeded',
    amount: 1000,
    amount_refunded: refunded,
    refunded: refunded === 1000,
    currency: 'eur',
  };
}

/** A refund object of `charge`, as charge.refund.updated carries it. */
function refundOf(id: string, charge: string, amount: number, status: string, created: number, metadata: Record<string, string> = {}) {
  return {
    id,
    object: 'refund',
    amount,
    charge,
    payment_intent: `pi_of_${charge}`,
    currency: 'eur',
    created,
    metadata,
    reason: 'requested_by_customer',
    status,
    ...(status === 'failed' ? { failure_reason: 'expired_or_canceled_card' } : {}),
  };
}

/** charge.refund.updated at `at` for this refund object, saying which of its fields changed. */
function refundUpdated(refund: ReturnType<typeof refundOf>, at: number, previous: Record<string, unknown>): string {
  return stripeEvent('charge.refund.updated', refund, { created: at, data: { object: refund, previous_attributes: previous } });
}

function subscription(id: string, status: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    object: 'subscription',
    customer: `cus_of_${id}`,
    status,
    cancel_at_period_end: false,
    current_period_start: T0,
    current_period_end: T0 + 30 * 86400,
    items: { object: 'list', data: [{ id: `si_${id}`, price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold' }, quantity: 1 }] },
    ...extra,
  };
}

function summary(customer: string, keys: string[], created: number): string {
  return stripeEvent(
    'entitlements.active_entitlement_summary.updated',
    {
      object: 'entitlements.active_entitlement_summary',
      customer,
      entitlements: { object: 'list', data: keys.map((k) => ({ id: `ent_${k}`, lookup_key: k, feature: `feat_${k}` })) },
    },
    { created },
  );
}

describe('Stripe → CRM under hostile delivery orders', () => {
  let app: TestApp;
  let n = 0;
  before(async () => {
    app = await startTestApp({
      worker: false,
      config: { processingRetrySchedule: [60] },
      findHandler: (provider, type) => {
        const real = findHandler(provider, type === 'customer.poisoned' ? 'customer.created' : type);
        if (!real) return undefined;
        return async (tx, event, options) => {
          await real(tx, event, options);
          if (type === 'customer.poisoned') await tx.query(`SELECT 'not a number'::int`);
        };
      },
    });
  });
  after(() => app.close());

  async function workspace(): Promise<string> {
    n += 1;
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: `order ${n}` })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    return ws;
  }
  async function post(ws: string, payload: string): Promise<void> {
    const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  /** Drains the queue: everything due in batches of `size`. */
  async function drain(size: number): Promise<void> {
    for (;;) {
      const batch = await claimDueEvents(app.db, 'wrk_order', size, 30);
      if (batch.length === 0) return;
      await processBatch(app.ctx, 'wrk_order', batch);
    }
  }
  /** Delivers the payloads in this order: all in one batch, or each processed before the next arrives. */
  async function deliver(ws: string, payloads: string[], mode: 'one batch' | 'one by one'): Promise<void> {
    if (mode === 'one batch') {
      for (const p of payloads) await post(ws, p);
      await drain(100);
    } else {
      for (const p of payloads) {
        await post(ws, p);
        await drain(1);
      }
    }
  }
  const get = async (ws: string, path: string) => (await app.api('GET', `/api/v1/workspaces/${ws}${path}`)).body;
  const subRow = async (ws: string, providerId: string) => {
    const { rows } = await app.db.query<{ status: string; deleted: boolean; source_event_id: string }>(
      'SELECT status, deleted, source_event_id FROM subscriptions WHERE workspace_id = $1 AND provider_id = $2',
      [ws, providerId],
    );
    assert.ok(rows[0], `a row for ${providerId}`);
    return rows[0];
  };
  const activeAccess = async (ws: string) =>
    (
      await app.db.query<{ resource: string }>(
        `SELECT resource FROM access WHERE workspace_id = $1 AND provider = 'stripe' AND status = 'active' ORDER BY resource`,
        [ws],
      )
    ).rows.map((r) => r.resource);

  /** The payments of a workspace: a charge as its amount refunded, a refund as its id, status and amount. */
  const stateOf = async (ws: string) => {
    const { rows } = await app.db.query<{ provider_id: string; kind: string; status: string; amount: string; amount_refunded: string }>(
      `SELECT provider_id, kind, status, amount, amount_refunded FROM payments WHERE workspace_id = $1 ORDER BY provider_id`,
      [ws],
    );
    return rows.map((r) =>
      r.kind === 'charge' ? ['charge', Number(r.amount_refunded)] : [r.provider_id, r.kind, r.status, Number(r.amount)],
    );
  };

  test('created / updated / deleted of one subscription in every order, in one batch and one by one, end as the newest says', async () => {
    const events = [
      stripeEvent('customer.subscription.created', subscription('sub_perm', 'incomplete'), { created: T0 }),
      stripeEvent('customer.subscription.updated', subscription('sub_perm', 'active', { quantity: 1 }), { created: T0 + 5 }),
      stripeEvent('customer.subscription.updated', subscription('sub_perm', 'active', { cancel_at_period_end: true }), {
        created: T0 + 10,
      }),
      stripeEvent('customer.subscription.deleted', subscription('sub_perm', 'canceled', { ended_at: T0 + 20 }), { created: T0 + 20 }),
    ];
    const newest = JSON.parse(events[3]!).id;
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of permutations(events)) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const row = await subRow(ws, 'sub_perm');
        const label = `${mode}: ${order.map((e) => events.indexOf(e)).join(',')}`;
        assert.equal(row.status, 'canceled', label);
        assert.equal(row.source_event_id, newest, label);
        // One subscription.ended and one subscription.created whatever the order.
        const types = (await get(ws, '/messages?limit=500')).data.map((m: any) => m.type).filter((t: string) => !t.startsWith('stripe.'));
        assert.equal(types.filter((t: string) => t === 'subscription.ended').length, 1, label);
        assert.equal(types.filter((t: string) => t === 'subscription.created').length, 1, label);
      }
    }
  });

  test('same-second updates of one subscription: the later lifecycle stage wins in either order, duplicates included', async () => {
    const active = stripeEvent('customer.subscription.updated', subscription('sub_tie', 'active'), { created: T0 });
    const pastDue = stripeEvent('customer.subscription.updated', subscription('sub_tie', 'past_due'), { created: T0 });
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of [
        [active, pastDue],
        [pastDue, active],
        [pastDue, active, active, pastDue],
      ]) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        assert.equal((await subRow(ws, 'sub_tie')).status, 'past_due', mode);
      }
    }
  });

  test('a created event and an update of the same second: the update wins whatever the event ids and the order', async () => {
    // Stripe's event ids are not ordered in time: the created event's id may well sort after its update's.
    // An object's created event is always its first, so in a tie the update (the later state) must win.
    const events = [
      stripeEvent('customer.created', { id: 'cus_same', email: 'first@example.com' }, { created: T0, id: 'evt_zzz_customer_created' }),
      stripeEvent('customer.updated', { id: 'cus_same', email: 'second@example.com' }, { created: T0, id: 'evt_aaa_customer_updated' }),
      stripeEvent('customer.subscription.created', subscription('sub_same', 'active', { customer: 'cus_same' }), {
        created: T0,
        id: 'evt_zzz_subscription_created',
      }),
      stripeEvent(
        'customer.subscription.updated',
        subscription('sub_same', 'active', { customer: 'cus_same', cancel_at_period_end: true }),
        {
          created: T0,
          id: 'evt_aaa_subscription_updated',
        },
      ),
      stripeEvent('product.created', { id: 'prod_same', name: 'Old name' }, { created: T0, id: 'evt_zzz_product_created' }),
      stripeEvent('product.updated', { id: 'prod_same', name: 'New name' }, { created: T0, id: 'evt_aaa_product_updated' }),
      stripeEvent(
        'price.created',
        { id: 'price_same', product: 'prod_same', unit_amount: 900, currency: 'eur' },
        { created: T0, id: 'evt_zzz_price_created' },
      ),
      stripeEvent(
        'price.updated',
        { id: 'price_same', product: 'prod_same', unit_amount: 900, currency: 'eur', nickname: 'Renamed' },
        {
          created: T0,
          id: 'evt_aaa_price_updated',
        },
      ),
    ];
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of [events, [...events].reverse()]) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const one = async (sql: string) => (await app.db.query(sql, [ws])).rows[0];
        const label = `${mode}, ${order === events ? 'created first' : 'updated first'}`;
        assert.equal((await one('SELECT email FROM customers WHERE workspace_id = $1'))?.email, 'second@example.com', label);
        assert.equal(
          (await one('SELECT cancel_at_period_end FROM subscriptions WHERE workspace_id = $1'))?.cancel_at_period_end,
          true,
          label,
        );
        assert.equal(
          (await one(`SELECT name FROM products WHERE workspace_id = $1 AND provider_id = 'prod_same'`))?.name,
          'New name',
          label,
        );
        assert.equal(
          (await one(`SELECT nickname FROM prices WHERE workspace_id = $1 AND provider_id = 'price_same'`))?.nickname,
          'Renamed',
          label,
        );
      }
    }
  });

  test('a replay of an old event after newer ones were projected does not take the row back in time', async () => {
    const ws = await workspace();
    const old = stripeEvent('customer.subscription.updated', subscription('sub_replay', 'active'), { created: T0 });
    const newer = stripeEvent('customer.subscription.updated', subscription('sub_replay', 'past_due'), { created: T0 + 60 });
    await deliver(ws, [old, newer], 'one by one');
    const { rows } = await app.db.query<{ id: string }>('SELECT id FROM events WHERE workspace_id = $1 AND provider_event_id = $2', [
      ws,
      JSON.parse(old).id,
    ]);
    const derived = async () => (await get(ws, '/messages?limit=500')).data.filter((m: any) => !m.type.startsWith('stripe.')).length;
    const before = await derived();
    const replay = await app.api('POST', `/api/v1/workspaces/${ws}/events/${rows[0]!.id}/replay`);
    assert.ok(replay.status < 300, JSON.stringify(replay.body));
    await drain(10);
    const row = await subRow(ws, 'sub_replay');
    assert.equal(row.status, 'past_due');
    assert.equal(row.source_event_id, JSON.parse(newer).id);
    // The replayed event changed nothing, so it publishes no business event.
    assert.equal(await derived(), before);
  });

  test('an older entitlement summary arriving after a newer one grants nothing the newer one left out', async () => {
    // Stripe sends one summary per change, each the full list of the customer's active entitlements. The newer
    // summary says only `premium`; an older one listing `archive` too, delivered late, must not grant `archive`.
    for (const mode of ['one batch', 'one by one'] as const) {
      const ws = await workspace();
      await deliver(ws, [summary('cus_ent', ['premium'], T0 + 10), summary('cus_ent', ['premium', 'archive'], T0)], mode);
      assert.deepEqual(await activeAccess(ws), ['premium'], mode);

      // Everything revoked by the newest summary: an older one listing a key never seen must not grant it either.
      const ws2 = await workspace();
      await deliver(
        ws2,
        [summary('cus_ent', ['premium'], T0), summary('cus_ent', [], T0 + 20), summary('cus_ent', ['extra'], T0 + 10)],
        mode,
      );
      assert.deepEqual(await activeAccess(ws2), [], mode);
    }
  });

  test('an empty entitlement summary is the newest word even when it changed no row: an older one delivered late grants nothing', async () => {
    // The customer's first summary to arrive is the newest and lists nothing (every entitlement ended): it has no
    // access row to revoke, so it writes none, and still an older summary listing `premium` must not grant it.
    for (const mode of ['one batch', 'one by one'] as const) {
      const ws = await workspace();
      await deliver(ws, [summary('cus_none', [], T0 + 10), summary('cus_none', ['premium'], T0)], mode);
      assert.deepEqual(await activeAccess(ws), [], mode);
      // A newer summary still grants: the empty one is a version, not a lock.
      await deliver(ws, [summary('cus_none', ['archive'], T0 + 20)], mode);
      assert.deepEqual(await activeAccess(ws), ['archive'], mode);
      // Every order of an empty newest summary and older ones ends with nothing active.
      const events = [summary('cus_all', ['a'], T0), summary('cus_all', ['a', 'b'], T0 + 5), summary('cus_all', [], T0 + 10)];
      for (const order of permutations(events)) {
        const each = await workspace();
        await deliver(each, order, mode);
        assert.deepEqual(await activeAccess(each), [], `${mode}: ${order.map((e) => events.indexOf(e)).join(',')}`);
      }
    }
    // A rebuild from the stored events arrives at the same rows.
    const ws = await workspace();
    await deliver(ws, [summary('cus_none', [], T0 + 10), summary('cus_none', ['premium'], T0)], 'one by one');
    const rebuilt = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, { apply: true });
    assert.equal(rebuilt.status, 200, JSON.stringify(rebuilt.body));
    assert.deepEqual(await activeAccess(ws), []);
  });

  test('entitlement summaries in every order end with exactly the newest list active', async () => {
    const events = [summary('cus_perm', ['a', 'b'], T0), summary('cus_perm', ['b', 'c'], T0 + 10), summary('cus_perm', ['c'], T0 + 20)];
    for (const order of permutations(events)) {
      const ws = await workspace();
      await deliver(ws, order, 'one by one');
      assert.deepEqual(await activeAccess(ws), ['c'], order.map((e) => events.indexOf(e)).join(','));
    }
  });

  test('a charge refunded in the same second it succeeded ends refunded, in either order and either delivery', async () => {
    const charge = (status: string, refunded: number) => ({
      id: 'ch_tie',
      object: 'charge',
      customer: 'cus_charge',
      payment_intent: 'pi_tie',
      status,
      amount: 5000,
      amount_refunded: refunded,
      refunded: refunded === 5000,
      currency: 'eur',
    });
    const succeeded = stripeEvent('charge.succeeded', charge('succeeded', 0), { created: T0 });
    const partly = stripeEvent('charge.refunded', charge('succeeded', 1000), { created: T0 });
    const fully = stripeEvent('charge.refunded', charge('succeeded', 5000), { created: T0 });
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of permutations([succeeded, partly, fully])) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const { rows } = await app.db.query<{ amount_refunded: string }>(
          `SELECT amount_refunded FROM payments WHERE workspace_id = $1 AND provider_id = 'ch_tie'`,
          [ws],
        );
        const label = `${mode}: ${order.map((e) => [succeeded, partly, fully].indexOf(e)).join(',')}`;
        assert.equal(Number(rows[0]?.amount_refunded), 5000, label);
        // Two refund steps seen at most, never a refund published for an amount the charge went back below.
        const refunds = (await get(ws, '/messages?type=order.refunded')).data.map((m: any) => m.data.payment.amountRefunded);
        assert.ok(refunds.includes(5000), `${label}: ${JSON.stringify(refunds)}`);
      }
    }
  });

  test('invoice.paid and invoice.payment_failed of one second: paid wins in every order, one payment.succeeded', async () => {
    const invoice = (status: string, attempts: number) => ({
      id: 'in_tie',
      object: 'invoice',
      customer: 'cus_inv',
      status,
      attempt_count: attempts,
      amount_due: 900,
      amount_paid: status === 'paid' ? 900 : 0,
      currency: 'eur',
      billing_reason: 'subscription_cycle',
      payment_intent: 'pi_inv',
    });
    const failed = stripeEvent('invoice.payment_failed', invoice('open', 1), { created: T0 });
    const paid = stripeEvent('invoice.paid', invoice('paid', 2), { created: T0 });
    const finalized = stripeEvent('invoice.finalized', invoice('open', 0), { created: T0 - 3600 });
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of permutations([finalized, failed, paid])) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `${mode}: ${order.map((e) => [finalized, failed, paid].indexOf(e)).join(',')}`;
        const [row] = (await get(ws, '/invoices')).data;
        assert.equal(row.status, 'paid', label);
        assert.equal((await get(ws, '/messages?type=payment.succeeded')).data.length, 1, label);
        assert.equal((await get(ws, '/messages?type=subscription.renewed')).data.length, 1, label);
      }
    }
  });

  test('a failed payment is published once whether its invoice.updated or its invoice.payment_failed is projected first', async () => {
    // A failed attempt makes Stripe send invoice.payment_failed and an invoice.updated carrying the same attempt
    // count, often in the same second. Whichever is projected first, the failure is a fact to publish once; a
    // failure notice older than the invoice's payment is not.
    const invoice = (status: string, attempts: number) => ({
      id: 'in_fail',
      object: 'invoice',
      customer: 'cus_fail',
      status,
      attempt_count: attempts,
      amount_due: 900,
      amount_paid: status === 'paid' ? 900 : 0,
      currency: 'eur',
      billing_reason: 'subscription_cycle',
    });
    for (const [updatedId, failedId] of [
      ['evt_zzz_updated', 'evt_aaa_failed'],
      ['evt_aaa_updated', 'evt_zzz_failed'],
    ] as const) {
      for (const updatedAt of [T0, T0 - 1]) {
        const updated = stripeEvent('invoice.updated', invoice('open', 1), { created: updatedAt, id: updatedId });
        const failed = stripeEvent('invoice.payment_failed', invoice('open', 1), { created: T0, id: failedId });
        for (const mode of ['one batch', 'one by one'] as const) {
          for (const order of [
            [updated, failed],
            [failed, updated],
          ]) {
            const ws = await workspace();
            await deliver(ws, order, mode);
            const label = `${updatedId} at ${updatedAt - T0}, ${mode}, ${order[0] === updated ? 'updated first' : 'failed first'}`;
            const messages = (await get(ws, '/messages?type=payment.failed')).data;
            assert.equal(messages.length, 1, label);
            assert.equal(messages[0].data.invoice.status, 'open', label);
          }
        }
      }
    }
    // The second attempt's failure, then the payment, then the first attempt's failure notice late: one failure
    // message per attempt, none for a failure the invoice's later payment made moot.
    const ws = await workspace();
    await deliver(
      ws,
      [
        stripeEvent('invoice.payment_failed', invoice('open', 2), { created: T0 + 86400 }),
        stripeEvent('invoice.paid', invoice('paid', 3), { created: T0 + 2 * 86400 }),
        stripeEvent('invoice.payment_failed', invoice('open', 1), { created: T0 }),
      ],
      'one by one',
    );
    assert.deepEqual(
      (await get(ws, '/messages?type=payment.failed')).data.map((m: any) => m.data.invoice.status),
      ['open'],
    );
  });

  test('a customer deleted while its subscription lives on: one tombstoned customer, the subscription still linked to it', async () => {
    const events = [
      stripeEvent('customer.created', { id: 'cus_del', email: 'del@example.com' }, { created: T0 }),
      stripeEvent('customer.subscription.created', subscription('sub_del', 'active', { customer: 'cus_del' }), { created: T0 + 1 }),
      stripeEvent('customer.deleted', { id: 'cus_del', email: 'del@example.com' }, { created: T0 + 2 }),
      stripeEvent('customer.subscription.updated', subscription('sub_del', 'past_due', { customer: 'cus_del' }), { created: T0 + 3 }),
    ];
    for (const order of permutations(events)) {
      const ws = await workspace();
      await deliver(ws, order, 'one by one');
      const label = order.map((e) => events.indexOf(e)).join(',');
      const { rows } = await app.db.query<{ id: string; deleted: boolean; stub: boolean; email: string }>(
        'SELECT id, deleted, stub, email FROM customers WHERE workspace_id = $1',
        [ws],
      );
      assert.equal(rows.length, 1, label);
      assert.deepEqual({ ...rows[0], id: undefined }, { id: undefined, deleted: true, stub: false, email: 'del@example.com' }, label);
      const sub = await app.db.query<{ customer_id: string; status: string }>(
        `SELECT customer_id, status FROM subscriptions WHERE workspace_id = $1 AND provider_id = 'sub_del'`,
        [ws],
      );
      assert.deepEqual(sub.rows[0], { customer_id: rows[0]!.id, status: 'past_due' }, label);
      assert.equal((await get(ws, '/messages?type=customer.deleted')).data.length, 1, label);
    }
  });

  test('objects of a customer never seen: one stub shared by all, filled in once by the customer, in one batch or one by one', async () => {
    const events = [
      stripeEvent(
        'invoice.paid',
        { id: 'in_stub', object: 'invoice', customer: 'cus_unseen', status: 'paid', amount_paid: 900, currency: 'eur' },
        { created: T0 + 10 },
      ),
      stripeEvent(
        'payment_intent.succeeded',
        { id: 'pi_stub', object: 'payment_intent', customer: 'cus_unseen', status: 'succeeded', amount: 900, currency: 'eur' },
        { created: T0 + 10 },
      ),
      stripeEvent('customer.subscription.created', subscription('sub_stub2', 'active', { customer: 'cus_unseen' }), { created: T0 + 5 }),
      stripeEvent('customer.created', { id: 'cus_unseen', email: 'unseen@example.com', name: 'Unseen' }, { created: T0 }),
    ];
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of [events, [...events].reverse()]) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `${mode}, ${order === events ? 'customer last' : 'customer first'}`;
        const { rows } = await app.db.query<{ id: string; stub: boolean; email: string }>(
          'SELECT id, stub, email FROM customers WHERE workspace_id = $1',
          [ws],
        );
        assert.equal(rows.length, 1, label);
        assert.equal(rows[0]!.stub, false, label);
        assert.equal(rows[0]!.email, 'unseen@example.com', label);
        for (const table of ['invoices', 'payments', 'subscriptions']) {
          const linked = await app.db.query<{ customer_id: string }>(`SELECT customer_id FROM ${table} WHERE workspace_id = $1`, [ws]);
          assert.deepEqual(
            linked.rows.map((r) => r.customer_id),
            [rows[0]!.id],
            `${label}: ${table}`,
          );
        }
        const customer = await get(ws, `/customers/${rows[0]!.id}`);
        assert.equal(customer.timeline.length, 4, label);
        assert.equal((await get(ws, '/messages?type=customer.created')).data.length, 1, label);
      }
    }
  });

  test('access a subscription pays for, after every order of its events: none once canceled, some while past_due is in grace', async () => {
    const now = Math.floor(Date.now() / 1000);
    const live = { current_period_start: now - 2 * 86400, current_period_end: now + 28 * 86400, customer: 'cus_pay' };
    const lifecycles: [string, string[], boolean][] = [
      [
        'canceled',
        [
          stripeEvent('customer.subscription.created', subscription('sub_pay', 'trialing', live), { created: now - 300 }),
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'active', live), { created: now - 200 }),
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'past_due', live), { created: now - 100 }),
          stripeEvent('customer.subscription.deleted', subscription('sub_pay', 'canceled', { ...live, ended_at: now - 50 }), {
            created: now - 50,
          }),
        ],
        false,
      ],
      [
        'past_due within grace',
        [
          stripeEvent('customer.subscription.created', subscription('sub_pay', 'incomplete', live), { created: now - 300 }),
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'active', live), { created: now - 200 }),
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'past_due', live), { created: now - 100 }),
        ],
        true,
      ],
      [
        // "Leave the subscription past_due" in Stripe: it goes on renewing, one open invoice a period. The grace counts
        // from the first renewal left unpaid (33 days ago), not from the current period's start (2 days ago).
        'left past_due through a renewal',
        [
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'active', live), { created: now - 40 * 86400 }),
          stripeEvent(
            'invoice.payment_failed',
            {
              id: 'in_first_unpaid',
              object: 'invoice',
              customer: 'cus_pay',
              subscription: 'sub_pay',
              status: 'open',
              billing_reason: 'subscription_cycle',
              period_start: now - 63 * 86400,
              period_end: now - 33 * 86400,
              amount_due: 900,
              amount_paid: 0,
              currency: 'eur',
            },
            { created: now - 33 * 86400 },
          ),
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'past_due', live), { created: now - 100 }),
        ],
        false,
      ],
      [
        'unpaid after past_due',
        [
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'active', live), { created: now - 200 }),
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'past_due', live), { created: now - 100 }),
          stripeEvent('customer.subscription.updated', subscription('sub_pay', 'unpaid', live), { created: now - 100 }),
        ],
        false,
      ],
    ];
    for (const [name, events, paid] of lifecycles) {
      for (const order of permutations(events)) {
        const ws = await workspace();
        const put = await app.api('PUT', `/api/v1/workspaces/${ws}/settings/parity?force=true`, {
          accessMap: [{ match: { price: 'price_gold' }, key: 'gold', sources: ['app'] }],
        });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        await deliver(ws, order, 'one by one');
        const label = `${name}: ${order.map((e) => events.indexOf(e)).join(',')}`;
        const view = (await app.api('GET', `/api/v1/workspaces/${ws}/parity/customers/cus_pay`)).body;
        const gold = view.keys.find((k: any) => k.key === 'gold');
        assert.equal(gold?.expected, paid, `${label}: ${JSON.stringify(gold)}`);
      }
    }
  });

  test('a product or plan deleted and created again under its own id comes back; events of the deleted one stay dead', async () => {
    // Products and plans (prices) take ids the account chooses, and Stripe lets a deleted one be created again under
    // the same id: a new object, whose events are all newer than the delete.
    const product = [
      stripeEvent('product.created', { id: 'prod_again', object: 'product', name: 'First', active: true }, { created: T0 }),
      stripeEvent('product.updated', { id: 'prod_again', object: 'product', name: 'First, renamed', active: true }, { created: T0 + 5 }),
      stripeEvent('product.deleted', { id: 'prod_again', object: 'product', name: 'First, renamed', active: false }, { created: T0 + 10 }),
      stripeEvent('product.created', { id: 'prod_again', object: 'product', name: 'Second', active: true }, { created: T0 + 20 }),
    ];
    const plan = (lookupKey: string, amount: number) => ({
      id: 'gold-monthly',
      object: 'price',
      product: 'prod_again',
      lookup_key: lookupKey,
      unit_amount: amount,
      currency: 'eur',
      recurring: { interval: 'month', interval_count: 1 },
      active: true,
    });
    const price = [
      stripeEvent('price.created', plan('gold-v1', 500), { created: T0 + 1 }),
      stripeEvent('price.deleted', plan('gold-v1', 500), { created: T0 + 11 }),
      stripeEvent('price.created', plan('gold-v2', 1000), { created: T0 + 21 }),
    ];
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of permutations(product)) {
        const ws = await workspace();
        await deliver(ws, [...order, ...price], mode);
        const label = `${mode}: ${order.map((e) => product.indexOf(e)).join(',')}`;
        const { rows } = await app.db.query<{ name: string; deleted: boolean }>(
          `SELECT name, deleted FROM products WHERE workspace_id = $1 AND provider_id = 'prod_again'`,
          [ws],
        );
        assert.deepEqual(rows[0], { name: 'Second', deleted: false }, label);
      }
      for (const order of permutations(price)) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `${mode}: ${order.map((e) => price.indexOf(e)).join(',')}`;
        const { rows } = await app.db.query<{ lookup_key: string; unit_amount: number; deleted: boolean }>(
          `SELECT lookup_key, unit_amount, deleted FROM prices WHERE workspace_id = $1 AND provider_id = 'gold-monthly'`,
          [ws],
        );
        assert.deepEqual(rows[0], { lookup_key: 'gold-v2', unit_amount: 1000, deleted: false }, label);
      }
    }
    // Deleted and not created again: deleted, whatever comes late.
    const ws = await workspace();
    await deliver(ws, [product[2]!, product[1]!, product[0]!], 'one by one');
    const { rows } = await app.db.query<{ deleted: boolean }>(`SELECT deleted FROM products WHERE workspace_id = $1`, [ws]);
    assert.deepEqual(rows[0], { deleted: true });
  });

  test('a checkout paid by a delayed method: order.completed once its payment succeeds, in either order', async () => {
    // SEPA debits, bank transfers and other delayed methods complete the session unpaid; Stripe says
    // checkout.session.async_payment_succeeded (or _failed) when the money arrives, often days later.
    const session = (paymentStatus: string) => ({
      id: 'cs_async',
      object: 'checkout.session',
      customer: 'cus_async',
      mode: 'payment',
      status: 'complete',
      payment_status: paymentStatus,
      payment_intent: 'pi_async',
      amount_total: 4200,
      currency: 'eur',
    });
    const completed = stripeEvent('checkout.session.completed', session('unpaid'), { created: T0 });
    const succeeded = stripeEvent('checkout.session.async_payment_succeeded', session('paid'), { created: T0 + 3 * 86400 });
    const failed = stripeEvent('checkout.session.async_payment_failed', session('unpaid'), { created: T0 + 3 * 86400 });
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of [
        [completed, succeeded],
        [succeeded, completed],
      ]) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `${mode}, ${order[0] === completed ? 'completed first' : 'succeeded first'}`;
        const { rows } = await app.db.query<{ payment_status: string }>(
          `SELECT payment_status FROM checkout_sessions WHERE workspace_id = $1 AND provider_id = 'cs_async'`,
          [ws],
        );
        assert.equal(rows[0]?.payment_status, 'paid', label);
        assert.equal((await get(ws, '/messages?type=order.completed')).data.length, 1, label);
      }
      const ws = await workspace();
      await deliver(ws, [completed, failed], mode);
      assert.equal((await get(ws, '/messages?type=order.completed')).data.length, 0, `${mode}: failed`);
      const { rows } = await app.db.query<{ source_event_id: string }>(
        `SELECT source_event_id FROM checkout_sessions WHERE workspace_id = $1 AND provider_id = 'cs_async'`,
        [ws],
      );
      assert.equal(rows[0]?.source_event_id, JSON.parse(failed).id, `${mode}: the failure is the session's latest word`);
    }
  });

  test('invoice.payment_succeeded (sent beside invoice.paid, or alone to endpoints that chose it) pays the invoice once', async () => {
    const invoice = {
      id: 'in_legacy',
      object: 'invoice',
      customer: 'cus_legacy',
      status: 'paid',
      attempt_count: 1,
      amount_due: 900,
      amount_paid: 900,
      currency: 'eur',
      billing_reason: 'subscription_cycle',
      payment_intent: 'pi_legacy',
    };
    const open = stripeEvent('invoice.finalized', { ...invoice, status: 'open', amount_paid: 0 }, { created: T0 - 60 });
    const succeeded = stripeEvent('invoice.payment_succeeded', invoice, { created: T0 });
    const paid = stripeEvent('invoice.paid', invoice, { created: T0 });
    for (const events of [
      [open, succeeded],
      [succeeded, open],
      [open, paid, succeeded],
      [succeeded, paid, open],
    ]) {
      const ws = await workspace();
      await deliver(ws, events, 'one by one');
      const label = events.map((e) => JSON.parse(e).type).join(', ');
      assert.equal((await get(ws, '/invoices')).data[0].status, 'paid', label);
      assert.equal((await get(ws, '/messages?type=payment.succeeded')).data.length, 1, label);
      assert.equal((await get(ws, '/messages?type=subscription.renewed')).data.length, 1, label);
    }
  });

  test('a pending update applied or expired is projected like any update of the subscription, in every order', async () => {
    // With payment_behavior=pending_if_incomplete an update waits for its invoice to be paid: Stripe then sends
    // customer.subscription.pending_update_applied (the new items), or _expired when it is never paid. Both carry the
    // whole subscription, and each is the subscription's latest word when it is the newest event.
    const platinum = {
      object: 'list',
      data: [{ id: 'si_sub_pending', price: { id: 'price_platinum', nickname: 'Platinum', product: 'prod_platinum' }, quantity: 2 }],
    };
    const pending = { pending_update: { subscription_items: [{ price: 'price_platinum', quantity: 2 }], expires_at: T0 + 86400 } };
    const applied = [
      stripeEvent('customer.subscription.created', subscription('sub_pending', 'active'), { created: T0 }),
      stripeEvent('customer.subscription.updated', subscription('sub_pending', 'active', pending), { created: T0 + 5 }),
      stripeEvent('customer.subscription.pending_update_applied', subscription('sub_pending', 'active', { items: platinum }), {
        created: T0 + 10,
      }),
    ];
    // The update's invoice went unpaid (past_due meanwhile); the update expired and the subscription is back as it was.
    const expired = [
      stripeEvent('customer.subscription.created', subscription('sub_pending', 'active'), { created: T0 }),
      stripeEvent('customer.subscription.updated', subscription('sub_pending', 'past_due', pending), { created: T0 + 5 }),
      stripeEvent('customer.subscription.pending_update_expired', subscription('sub_pending', 'active'), { created: T0 + 86400 }),
    ];
    const row = async (ws: string) =>
      (
        await app.db.query<{ status: string; price_provider_id: string; quantity: number; source_event_id: string }>(
          `SELECT status, price_provider_id, quantity, source_event_id FROM subscriptions WHERE workspace_id = $1 AND provider_id = 'sub_pending'`,
          [ws],
        )
      ).rows[0];
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of permutations(applied)) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `applied, ${mode}: ${order.map((e) => applied.indexOf(e)).join(',')}`;
        assert.deepEqual(
          await row(ws),
          { status: 'active', price_provider_id: 'price_platinum', quantity: 2, source_event_id: JSON.parse(applied[2]!).id },
          label,
        );
      }
      for (const order of permutations(expired)) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `expired, ${mode}: ${order.map((e) => expired.indexOf(e)).join(',')}`;
        assert.deepEqual(
          await row(ws),
          { status: 'active', price_provider_id: 'price_gold', quantity: 1, source_event_id: JSON.parse(expired[2]!).id },
          label,
        );
      }
    }
    // In order, the applied update is published as the subscription's update (a new price and quantity).
    const ws = await workspace();
    await deliver(ws, applied, 'one by one');
    const updates = (await get(ws, '/messages?type=subscription.updated')).data;
    assert.deepEqual(
      updates.map((m: any) => [m.data.subscription.priceId, m.data.subscription.quantity]),
      [['price_platinum', 2]],
    );
    // Same second as the created event, whose id sorts after it: the applied update still wins (created ranks lowest).
    const tie = await workspace();
    await deliver(
      tie,
      [
        stripeEvent('customer.subscription.created', subscription('sub_pending', 'active'), { created: T0, id: 'evt_zzz_pending_created' }),
        stripeEvent('customer.subscription.pending_update_applied', subscription('sub_pending', 'active', { items: platinum }), {
          created: T0,
          id: 'evt_aaa_pending_applied',
        }),
      ],
      'one batch',
    );
    assert.equal((await row(tie))?.price_provider_id, 'price_platinum');
  });

  test('a deleted draft invoice is a tombstone, in every order; no late event of the draft brings it back', async () => {
    // Only drafts can be deleted (finalized invoices are voided instead), and Stripe sends the draft as it was.
    const draft = (amount: number) => ({
      id: 'in_draft',
      object: 'invoice',
      customer: 'cus_draft',
      status: 'draft',
      amount_due: amount,
      amount_paid: 0,
      currency: 'eur',
      billing_reason: 'manual',
    });
    const events = [
      stripeEvent('invoice.created', draft(900), { created: T0 }),
      stripeEvent('invoice.updated', draft(1200), { created: T0 + 5 }),
      stripeEvent('invoice.deleted', draft(1200), { created: T0 + 10 }),
      // An update of the same second as the delete, whose id sorts after it: the delete still wins.
      stripeEvent('invoice.updated', draft(1500), { created: T0 + 10, id: 'evt_zzz_draft_updated' }),
    ];
    for (const [mode, order] of orderings(events)) {
      const ws = await workspace();
      await deliver(ws, order, mode);
      const label = `${mode}: ${order.map((e) => events.indexOf(e)).join(',')}`;
      const invoices = (await get(ws, '/invoices')).data;
      assert.deepEqual(
        invoices.map((i: any) => [i.providerId, i.deleted, i.status, i.amountDue]),
        [['in_draft', true, 'draft', 1200]],
        label,
      );
    }
  });

  test('every charge.dispute.* event keeps the dispute row, in every order: the latest stage wins, one chargeback.received', async () => {
    const dispute = (status: string) => ({
      id: 'du_order',
      object: 'dispute',
      charge: 'ch_disputed',
      payment_intent: 'pi_disputed',
      amount: 4200,
      currency: 'eur',
      reason: 'fraudulent',
      status,
    });
    const row = async (ws: string) =>
      (
        await app.db.query<{ kind: string; status: string; charge_provider_id: string; source_event_id: string }>(
          `SELECT kind, status, charge_provider_id, source_event_id FROM payments WHERE workspace_id = $1 AND provider_id = 'du_order'`,
          [ws],
        )
      ).rows[0];
    // Stripe sends funds_withdrawn with created, in the same second (here with the smaller id: it must still win);
    // updated once evidence is submitted.
    const underReview = [
      stripeEvent('charge.dispute.created', dispute('needs_response'), { created: T0, id: 'evt_zzz_dispute_created' }),
      stripeEvent('charge.dispute.funds_withdrawn', dispute('needs_response'), { created: T0, id: 'evt_aaa_dispute_withdrawn' }),
      stripeEvent('charge.dispute.updated', dispute('under_review'), { created: T0 + 3600 }),
    ];
    // Won: closed and funds_reinstated come together; an update older than them, delivered late, changes nothing.
    const won = [
      stripeEvent('charge.dispute.created', dispute('needs_response'), { created: T0 }),
      stripeEvent('charge.dispute.updated', dispute('under_review'), { created: T0 + 3600 }),
      stripeEvent('charge.dispute.closed', dispute('won'), { created: T0 + 30 * 86400 }),
      stripeEvent('charge.dispute.funds_reinstated', dispute('won'), { created: T0 + 30 * 86400 }),
    ];
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const [name, events, status, last] of [
        ['under review', underReview, 'under_review', underReview[2]!],
        ['won', won, 'won', undefined],
      ] as const) {
        for (const order of permutations([...events])) {
          const ws = await workspace();
          await deliver(ws, order, mode);
          const label = `${name}, ${mode}: ${order.map((e) => events.indexOf(e)).join(',')}`;
          const r = await row(ws);
          assert.deepEqual([r?.kind, r?.status, r?.charge_provider_id], ['dispute', status, 'ch_disputed'], label);
          if (last) assert.equal(r?.source_event_id, JSON.parse(last).id, label);
          assert.equal((await get(ws, '/messages?type=chargeback.received')).data.length, 1, label);
        }
      }
    }
    // Only the funds withdrawn arrive (the created event was missed): the dispute is known, and its chargeback published.
    const ws = await workspace();
    await deliver(ws, [underReview[1]!], 'one by one');
    assert.equal((await row(ws))?.status, 'needs_response');
    const [received] = (await get(ws, '/messages?type=chargeback.received')).data;
    assert.deepEqual([received?.data.dispute.providerId, received?.data.dispute.amount], ['du_order', 4200]);
    // The same-second tie, decided by the rank alone: funds_withdrawn (id sorting first) wins over created.
    const tie = await workspace();
    await deliver(tie, [underReview[1]!, underReview[0]!], 'one batch');
    assert.equal((await row(tie))?.source_event_id, 'evt_aaa_dispute_withdrawn');
  });

  test('charge.refund.updated: the refund row follows it, the charge counts a refund once, and a failed one not at all', async () => {
    // API versions since 2022-11-15 list no refunds on the charge: charge.refunded says the new amount_refunded (a
    // refund counts from its creation, pending or not), charge.refund.updated the refund itself when it changes.
    const charge = (refunded: number) => refundedCharge('ch_refund', refunded);
    const refund = (id: string, amount: number, status: string, created: number) => refundOf(id, 'ch_refund', amount, status, created);
    const succeeded = stripeEvent('charge.succeeded', charge(0), { created: T0 });
    const refunded = stripeEvent('charge.refunded', charge(500), { created: T0 + 60 });
    // A pending refund that succeeds: the charge already counts it, so it stays at 500, and one order.refunded.
    const paidOut = stripeEvent('charge.refund.updated', refund('re_one', 500, 'succeeded', T0 + 60), {
      created: T0 + 86400,
      data: { object: refund('re_one', 500, 'succeeded', T0 + 60), previous_attributes: { status: 'pending' } },
    });
    // …and fails in the same second it succeeded (the failure is the later state), or simply fails later.
    const failed = stripeEvent('charge.refund.updated', refund('re_one', 500, 'failed', T0 + 60), {
      created: T0 + 86400,
      data: { object: refund('re_one', 500, 'failed', T0 + 60), previous_attributes: { status: 'succeeded' } },
    });
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of permutations([succeeded, refunded, paidOut])) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `succeeded, ${mode}: ${order.map((e) => [succeeded, refunded, paidOut].indexOf(e)).join(',')}`;
        assert.deepEqual(
          await stateOf(ws),
          [
            ['charge', 500],
            ['re_one', 'refund', 'succeeded', 500],
          ],
          label,
        );
        const messages = (await get(ws, '/messages?type=order.refunded')).data;
        assert.deepEqual(
          messages.map((m: any) => m.data.payment.amountRefunded),
          [500],
          label,
        );
      }
      for (const order of permutations([succeeded, refunded, paidOut, failed])) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `failed, ${mode}: ${order.map((e) => [succeeded, refunded, paidOut, failed].indexOf(e)).join(',')}`;
        assert.deepEqual(
          await stateOf(ws),
          [
            ['charge', 0],
            ['re_one', 'refund', 'failed', 500],
          ],
          label,
        );
      }
    }
    // Two refunds, the second fails: the charge keeps the first one's amount whatever the order, and the refund rows
    // belong to the charge's customer once it is known.
    const second = [
      stripeEvent('charge.refunded', charge(300), { created: T0 + 60 }),
      stripeEvent('charge.refunded', charge(1000), { created: T0 + 120 }),
      stripeEvent('charge.refund.updated', refund('re_two', 700, 'failed', T0 + 120), {
        created: T0 + 86400,
        data: { object: refund('re_two', 700, 'failed', T0 + 120), previous_attributes: { status: 'pending' } },
      }),
    ];
    for (const mode of ['one batch', 'one by one'] as const) {
      for (const order of permutations(second)) {
        const ws = await workspace();
        await deliver(ws, order, mode);
        const label = `two refunds, ${mode}: ${order.map((e) => second.indexOf(e)).join(',')}`;
        assert.deepEqual(
          await stateOf(ws),
          [
            ['charge', 300],
            ['re_two', 'refund', 'failed', 700],
          ],
          label,
        );
      }
    }
    const ws = await workspace();
    await deliver(ws, second, 'one by one');
    const detail = await get(ws, '/customers/cus_refund');
    assert.deepEqual(detail.payments.map((p: any) => p.providerId).sort(), ['ch_refund', 're_two']);
    assert.ok(detail.timeline.some((e: any) => e.type === 'charge.refund.updated'));
  });

  test('a refund that failed: a later charge event, updates after the failure and a refund seen before its charge count it once', async () => {
    // re_a (500) fails a minute after it was made; the charge's next refund (re_b, 300) comes later, and Stripe's
    // charge.refunded then counts only re_b. A metadata change of re_a after all that must not take it off again.
    const reA = (status: string, metadata: Record<string, string> = {}) => refundOf('re_a', 'ch_twice', 500, status, T0 + 60, metadata);
    const events = [
      stripeEvent('charge.succeeded', refundedCharge('ch_twice', 0), { created: T0 }),
      stripeEvent('charge.refunded', refundedCharge('ch_twice', 500), { created: T0 + 60 }),
      refundUpdated(reA('failed'), T0 + 100, { status: 'pending' }),
      stripeEvent('charge.refunded', refundedCharge('ch_twice', 300), { created: T0 + 200 }),
      refundUpdated(reA('failed', { ticket: '42' }), T0 + 300, { metadata: {} }),
    ];
    for (const [mode, order] of orderings(events)) {
      const ws = await workspace();
      await deliver(ws, order, mode);
      const label = `${mode}: ${order.map((e) => events.indexOf(e)).join(',')}`;
      assert.deepEqual(
        await stateOf(ws),
        [
          ['charge', 300],
          ['re_a', 'refund', 'failed', 500],
        ],
        label,
      );
    }

    // A second refund of the amount the failed one had: a refund of its own, so its own order.refunded.
    const again = [...events.slice(0, 3), stripeEvent('charge.refunded', refundedCharge('ch_twice', 500), { created: T0 + 200 })];
    const ws = await workspace();
    await deliver(ws, again, 'one by one');
    assert.deepEqual(await stateOf(ws), [
      ['charge', 500],
      ['re_a', 'refund', 'failed', 500],
    ]);
    const refunds = (await get(ws, '/messages?type=order.refunded')).data.map((m: any) => m.data.payment.amountRefunded);
    assert.deepEqual(refunds, [500, 500]);

    // The refund's update before anything of its charge: the refund is the charge's customer's once the charge is known.
    const late = await workspace();
    await deliver(late, [events[2]!, events[0]!], 'one by one');
    const detail = await get(late, '/customers/cus_of_ch_twice');
    assert.deepEqual(detail.payments.map((p: any) => p.providerId).sort(), ['ch_twice', 're_a']);
    assert.ok(
      detail.timeline.some((e: any) => e.type === 'charge.refund.updated'),
      JSON.stringify(detail.timeline.map((e: any) => e.type)),
    );
  });

  test('two workspaces with the same Stripe ids never touch each other', async () => {
    const a = await workspace();
    const b = await workspace();
    // Interleaved in one batch: b's newer cancellation must not reach a, a's newer email must not reach b.
    await post(a, stripeEvent('customer.created', { id: 'cus_shared', email: 'a@example.com' }, { created: T0 }));
    await post(b, stripeEvent('customer.created', { id: 'cus_shared', email: 'b@example.com' }, { created: T0 }));
    await post(
      a,
      stripeEvent('customer.subscription.created', subscription('sub_shared', 'active', { customer: 'cus_shared' }), { created: T0 }),
    );
    await post(
      b,
      stripeEvent('customer.subscription.created', subscription('sub_shared', 'active', { customer: 'cus_shared' }), { created: T0 }),
    );
    await post(
      b,
      stripeEvent('customer.subscription.deleted', subscription('sub_shared', 'canceled', { customer: 'cus_shared' }), { created: T0 + 9 }),
    );
    await post(a, stripeEvent('customer.updated', { id: 'cus_shared', email: 'a2@example.com' }, { created: T0 + 9 }));
    await post(b, summary('cus_shared', ['only-b'], T0 + 9));
    await drain(100);
    assert.equal((await subRow(a, 'sub_shared')).status, 'active');
    assert.equal((await subRow(b, 'sub_shared')).status, 'canceled');
    const emails = async (ws: string) => (await get(ws, '/customers')).data.map((c: any) => c.email);
    assert.deepEqual(await emails(a), ['a2@example.com']);
    assert.deepEqual(await emails(b), ['b@example.com']);
    assert.deepEqual(await activeAccess(a), []);
    assert.deepEqual(await activeAccess(b), ['only-b']);
    // Each workspace's subscription is linked to its own customer row.
    for (const ws of [a, b]) {
      const { rows } = await app.db.query<{ workspace_id: string }>(
        `SELECT c.workspace_id FROM subscriptions s JOIN customers c ON c.id = s.customer_id WHERE s.workspace_id = $1`,
        [ws],
      );
      assert.deepEqual(
        rows.map((r) => r.workspace_id),
        [ws],
      );
    }
  });

  test('a poisoned event in a batch of one object’s events fails alone; the others still project in version order', async () => {
    const ws = await workspace();
    await post(
      ws,
      stripeEvent('customer.subscription.updated', subscription('sub_poison', 'active', { customer: 'cus_p' }), { created: T0 + 5 }),
    );
    await post(ws, stripeEvent('customer.poisoned', { id: 'cus_p', email: 'mallory@example.com' }, { created: T0 + 6 }));
    await post(
      ws,
      stripeEvent('customer.subscription.created', subscription('sub_poison', 'incomplete', { customer: 'cus_p' }), { created: T0 }),
    );
    await post(ws, stripeEvent('customer.updated', { id: 'cus_p', email: 'good@example.com' }, { created: T0 + 1 }));
    await drain(100);
    assert.equal((await subRow(ws, 'sub_poison')).status, 'active');
    const { rows } = await app.db.query<{ type: string; status: string }>(
      'SELECT type, status FROM events WHERE workspace_id = $1 ORDER BY type',
      [ws],
    );
    assert.deepEqual(
      rows.map((r) => `${r.type}:${r.status}`),
      [
        'customer.poisoned:failed',
        'customer.subscription.created:processed',
        'customer.subscription.updated:processed',
        'customer.updated:processed',
      ],
    );
    const customers = (await get(ws, '/customers')).data;
    assert.deepEqual(
      customers.map((c: any) => c.email),
      ['good@example.com'],
    );
    // Its raw message goes out all the same (endpoints of the raw feed, the Piano proxy's destinations), once: a
    // second failed attempt, on the single-event path, publishes nothing more.
    const raw = async () => (await get(ws, '/messages?type=stripe.customer.poisoned')).data.map((m: any) => m.data.data.object.email);
    assert.deepEqual(await raw(), ['mallory@example.com']);
    await app.db.query(
      `UPDATE events SET status = 'received', next_attempt_at = now() WHERE workspace_id = $1 AND type = 'customer.poisoned'`,
      [ws],
    );
    const [again] = await claimDueEvents(app.db, 'wrk_order', 10, 30);
    assert.equal(again?.type, 'customer.poisoned');
    assert.equal(await processEvent(app.ctx, 'wrk_order', again!), 'failed');
    assert.deepEqual(await raw(), ['mallory@example.com']);

    // A raw message the database refuses does not keep a failed event from being recorded, on either path.
    const refusing = await workspace();
    await app.db.query(
      `CREATE FUNCTION refuse_poisoned_raw() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN IF NEW.type = 'stripe.customer.poisoned' AND NEW.workspace_id = '${refusing}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`,
    );
    await app.db.query(`CREATE TRIGGER refuse_poisoned_raw BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_poisoned_raw()`);
    try {
      await post(refusing, stripeEvent('customer.poisoned', { id: 'cus_r', email: 'eve@example.com' }, { created: T0 }));
      await post(refusing, stripeEvent('customer.updated', { id: 'cus_r', email: 'ok@example.com' }, { created: T0 + 1 }));
      await drain(100);
      const statuses = async () =>
        (
          await app.db.query<{ s: string }>(`SELECT type || ':' || status AS s FROM events WHERE workspace_id = $1 ORDER BY type`, [
            refusing,
          ])
        ).rows.map((r) => r.s);
      assert.deepEqual(await statuses(), ['customer.poisoned:failed', 'customer.updated:processed']);
      await app.db.query(
        `UPDATE events SET status = 'received', next_attempt_at = now() WHERE workspace_id = $1 AND type = 'customer.poisoned'`,
        [refusing],
      );
      const [stuck] = await claimDueEvents(app.db, 'wrk_order', 10, 30);
      assert.equal(await processEvent(app.ctx, 'wrk_order', stuck!), 'failed');
      assert.deepEqual(await statuses(), ['customer.poisoned:failed', 'customer.updated:processed']);
    } finally {
      await app.db.query('DROP TRIGGER refuse_poisoned_raw ON messages');
      await app.db.query('DROP FUNCTION refuse_poisoned_raw()');
    }
  });
});
