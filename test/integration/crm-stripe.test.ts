// The Stripe → CRM projection: order safety under shuffled, duplicated and same-second delivery,
// tombstones, and business events derived from state changes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_crm_test_secret';
const T0 = 1_790_000_000;

function subscription(status: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'sub_life',
    object: 'subscription',
    customer: 'cus_life',
    status,
    cancel_at_period_end: false,
    current_period_start: T0,
    current_period_end: T0 + 30 * 86400,
    trial_start: T0,
    trial_end: T0 + 7 * 86400,
    items: { object: 'list', data: [{ id: 'si_1', price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold' }, quantity: 1 }] },
    ...extra,
  };
}

/** Deterministic shuffle (seeded), so a failure is reproducible. */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('Stripe → CRM', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  async function workspace(name: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    return ws;
  }
  async function deliver(ws: string, payloads: string[]): Promise<void> {
    for (const payload of payloads) {
      const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
  }
  const get = async (ws: string, path: string) => (await app.api('GET', `/api/v1/workspaces/${ws}${path}`)).body;
  // Raw provider events are messages too (stripe.<type>); these tests are about the derived ones.
  const businessTypes = async (ws: string) =>
    (await get(ws, '/messages?limit=500')).data
      .map((m: any) => m.type as string)
      .filter((t: string) => !t.startsWith('stripe.'))
      .sort();
  const stateOf = async (ws: string) => {
    const strip = ({ id: _i, createdAt: _c, updatedAt: _u, customerId: _cu, ...rest }: any) => rest;
    const subs = (await get(ws, '/subscriptions')).data.map(strip);
    const customers = (await get(ws, '/customers')).data.map(strip);
    return { subs, customers };
  };

  test('a shuffled lifecycle with duplicates and same-second events ends as the in-order one', async () => {
    const lifecycle = [
      stripeEvent('customer.created', { id: 'cus_life', email: 'life@example.com', name: 'Life' }, { created: T0 - 5 }),
      stripeEvent('customer.subscription.created', subscription('trialing'), { created: T0 }),
      stripeEvent('customer.subscription.updated', subscription('active'), { created: T0 + 10 }),
      // same second as the activation above: the later lifecycle stage wins whatever the order
      stripeEvent('customer.subscription.updated', subscription('past_due'), { created: T0 + 20 }),
      stripeEvent('customer.subscription.updated', subscription('active', { current_period_end: T0 + 60 * 86400 }), { created: T0 + 30 }),
      stripeEvent(
        'customer.subscription.updated',
        subscription('active', { cancel_at_period_end: true, current_period_end: T0 + 60 * 86400 }),
        { created: T0 + 40 },
      ),
      stripeEvent(
        'customer.subscription.deleted',
        subscription('canceled', { cancel_at_period_end: true, current_period_end: T0 + 60 * 86400, ended_at: T0 + 40 }),
        { created: T0 + 40 },
      ),
      stripeEvent('customer.updated', { id: 'cus_life', email: 'life2@example.com', name: 'Life' }, { created: T0 + 50 }),
    ];
    const inOrder = await workspace('in order');
    await deliver(inOrder, lifecycle);
    const expected = await stateOf(inOrder);
    assert.equal(expected.subs[0].status, 'canceled');
    assert.equal(expected.subs[0].currentPeriodEnd, new Date((T0 + 60 * 86400) * 1000).toISOString());
    assert.equal(expected.customers[0].email, 'life2@example.com');

    for (const seed of [1, 2, 3]) {
      const shuffled = await workspace(`shuffled ${seed}`);
      const withDuplicates = shuffle([...lifecycle, lifecycle[2]!, lifecycle[5]!, lifecycle[6]!], seed);
      await deliver(shuffled, withDuplicates);
      assert.deepEqual(await stateOf(shuffled), expected, `seed ${seed}`);
    }
  });

  test('a deleted customer stays deleted when an older update arrives last', async () => {
    const ws = await workspace('tombstone');
    await deliver(ws, [
      stripeEvent('customer.created', { id: 'cus_gone', email: 'gone@example.com' }, { created: T0 }),
      stripeEvent('customer.deleted', { id: 'cus_gone', email: 'gone@example.com' }, { created: T0 + 10 }),
      stripeEvent('customer.updated', { id: 'cus_gone', email: 'resurrected@example.com' }, { created: T0 + 5 }),
      // even a newer update cannot undo a delete
      stripeEvent('customer.updated', { id: 'cus_gone', email: 'newer@example.com' }, { created: T0 + 20 }),
    ]);
    const [c] = (await get(ws, '/customers')).data;
    assert.equal(c.deleted, true);
    assert.equal(c.email, 'gone@example.com');
  });

  test('a subscription for an unseen customer creates a stub that the customer event fills in', async () => {
    const ws = await workspace('stub');
    await deliver(ws, [
      stripeEvent('customer.subscription.created', subscription('active', { id: 'sub_stub', customer: 'cus_later' }), { created: T0 }),
    ]);
    const sub = (await get(ws, '/subscriptions')).data[0];
    assert.ok(sub.customerId, 'linked to a stub customer');
    await deliver(ws, [stripeEvent('customer.created', { id: 'cus_later', email: 'later@example.com' }, { created: T0 - 100 })]);
    const customer = await get(ws, `/customers/${sub.customerId}`);
    assert.equal(customer.email, 'later@example.com');
    assert.deepEqual(
      customer.subscriptions.map((s: any) => s.providerId),
      ['sub_stub'],
    );
    assert.equal(customer.timeline.length, 2);
    assert.equal(customer.timeline[0].type, 'customer.subscription.created', 'newest first');
  });

  test('pause_collection is shown as pauseCollection, and cleared when collection resumes', async () => {
    const ws = await workspace('pause collection');
    const pause = { behavior: 'keep_as_draft', resumes_at: T0 + 90 * 86400 };
    const id = { id: 'sub_pause', customer: 'cus_pause' };
    await deliver(ws, [
      stripeEvent('customer.subscription.created', subscription('active', id), { created: T0 }),
      stripeEvent('customer.subscription.updated', subscription('active', { ...id, pause_collection: pause }), { created: T0 + 60 }),
    ]);
    let [sub] = (await get(ws, '/subscriptions')).data;
    assert.equal(sub.status, 'active', 'a paused collection keeps the status');
    assert.deepEqual(sub.pauseCollection, pause);
    assert.deepEqual((await get(ws, '/customers/cus_pause')).subscriptions[0].pauseCollection, pause);
    await deliver(ws, [
      stripeEvent('customer.subscription.updated', subscription('active', { ...id, pause_collection: null }), { created: T0 + 120 }),
    ]);
    [sub] = (await get(ws, '/subscriptions')).data;
    assert.equal(sub.pauseCollection, null);
  });

  test('business events: one subscription.canceled for a cancellation delivered three times, none for a no-op update', async () => {
    const ws = await workspace('messages');
    const active = stripeEvent('customer.subscription.created', subscription('active', { id: 'sub_msg', customer: 'cus_msg' }), {
      created: T0,
    });
    const cancel = stripeEvent(
      'customer.subscription.updated',
      subscription('active', { id: 'sub_msg', customer: 'cus_msg', cancel_at_period_end: true }),
      { created: T0 + 10 },
    );
    const sameStateLater = stripeEvent(
      'customer.subscription.updated',
      subscription('active', { id: 'sub_msg', customer: 'cus_msg', cancel_at_period_end: true }),
      { created: T0 + 20 },
    );
    await deliver(ws, [active, cancel, cancel, cancel, sameStateLater]);
    const cancelEvent = (await get(ws, '/events?type=customer.subscription.updated')).data.find(
      (e: any) => e.providerEventId === JSON.parse(cancel).id,
    );
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events/${cancelEvent.id}/replay`)).status, 202);
    await waitFor(async () => (await get(ws, '/events?status=received')).data.length === 0, 'replay processed');

    const types = await businessTypes(ws);
    assert.deepEqual(types, ['subscription.activated', 'subscription.canceled', 'subscription.created']);
    const canceled = (await get(ws, '/messages?type=subscription.canceled')).data[0];
    assert.equal(canceled.data.endsAt, new Date((T0 + 30 * 86400) * 1000).toISOString());
    assert.deepEqual(canceled.source, { provider: 'stripe', eventId: JSON.parse(cancel).id });
  });

  test('entitlements grant and revoke access; a paid renewal invoice publishes renewed', async () => {
    const ws = await workspace('access');
    const summary = (keys: string[], created: number) =>
      stripeEvent(
        'entitlements.active_entitlement_summary.updated',
        {
          object: 'entitlements.active_entitlement_summary',
          customer: 'cus_acc',
          entitlements: { object: 'list', data: keys.map((k) => ({ id: `ent_${k}`, lookup_key: k, feature: `feat_${k}` })) },
        },
        { created },
      );
    await deliver(ws, [summary(['premium', 'archive'], T0), summary(['premium'], T0 + 10)]);
    const rows = (await get(ws, '/access')).data;
    const byResource = Object.fromEntries(rows.map((r: any) => [r.resource, r.status]));
    assert.deepEqual(byResource, { premium: 'active', archive: 'revoked' });
    // The older summary arriving again (replayed) must not re-grant what was revoked.
    await deliver(ws, [summary(['premium', 'archive'], T0 - 10)]);
    assert.equal((await get(ws, '/access?status=active')).data.length, 1);

    await deliver(ws, [
      stripeEvent(
        'invoice.paid',
        {
          id: 'in_cycle',
          object: 'invoice',
          customer: 'cus_acc',
          status: 'paid',
          billing_reason: 'subscription_cycle',
          amount_paid: 900,
          currency: 'eur',
          parent: { subscription_details: { subscription: 'sub_x' } },
        },
        { created: T0 + 20 },
      ),
    ]);
    const types = await businessTypes(ws);
    assert.deepEqual(types, ['access.granted', 'access.granted', 'access.revoked', 'payment.succeeded', 'subscription.renewed']);
    assert.equal((await get(ws, '/invoices')).data[0].subscriptionProviderId, 'sub_x');
  });

  test('one payment, one payment.succeeded: invoice.paid and charge.succeeded in either order', async () => {
    // Two ways the payload links them: the invoice names its payment intent (the charge no longer names its
    // invoice, as in API versions from 2025), or the charge names its invoice (and the invoice names nothing).
    const shapes: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ['invoice names the payment intent', { payment_intent: 'pi_PAY' }, {}],
      ['charge names the invoice', {}, { invoice: 'in_PAY' }],
    ];
    for (const [shape, invoiceLink, chargeLink] of shapes) {
      for (const order of ['invoice first', 'charge first']) {
        const ws = await workspace(`${shape}, ${order}`);
        const invoice = stripeEvent(
          'invoice.paid',
          {
            id: 'in_PAY',
            object: 'invoice',
            customer: 'cus_pay',
            status: 'paid',
            billing_reason: 'subscription_create',
            amount_paid: 1500,
            currency: 'eur',
            ...invoiceLink,
          },
          { created: T0 },
        );
        const charge = stripeEvent(
          'charge.succeeded',
          {
            id: 'ch_PAY',
            object: 'charge',
            customer: 'cus_pay',
            status: 'succeeded',
            amount: 1500,
            amount_refunded: 0,
            currency: 'eur',
            payment_intent: 'pi_PAY',
            ...chargeLink,
          },
          { created: T0 },
        );
        await deliver(ws, order === 'invoice first' ? [invoice, charge] : [charge, invoice]);
        const published = (await get(ws, '/messages?type=payment.succeeded')).data;
        assert.equal(published.length, 1, `${shape}, ${order}: ${JSON.stringify(published.map((m: any) => m.data))}`);
      }
    }
    // API versions from 2025-03-31: neither names the other; invoice_payment.paid links them. Once the link is
    // known, whichever of invoice and charge comes second publishes nothing new.
    const link = stripeEvent(
      'invoice_payment.paid',
      {
        id: 'inpay_PAY',
        object: 'invoice_payment',
        invoice: 'in_PAY',
        status: 'paid',
        amount_paid: 1500,
        currency: 'eur',
        payment: { type: 'payment_intent', payment_intent: 'pi_PAY' },
      },
      { created: T0 },
    );
    const invoiceOnly = stripeEvent(
      'invoice.paid',
      {
        id: 'in_PAY',
        object: 'invoice',
        customer: 'cus_pay',
        status: 'paid',
        billing_reason: 'subscription_create',
        amount_paid: 1500,
        currency: 'eur',
      },
      { created: T0 },
    );
    const chargeOnly = stripeEvent(
      'charge.succeeded',
      { id: 'ch_PAY', object: 'charge', customer: 'cus_pay', status: 'succeeded', amount: 1500, currency: 'eur', payment_intent: 'pi_PAY' },
      { created: T0 },
    );
    for (const order of [
      [invoiceOnly, link, chargeOnly],
      [chargeOnly, link, invoiceOnly],
      [link, chargeOnly, invoiceOnly],
      [link, invoiceOnly, chargeOnly],
    ]) {
      const ws = await workspace('linked by invoice_payment');
      await deliver(ws, order);
      const published = (await get(ws, '/messages?type=payment.succeeded')).data;
      assert.equal(published.length, 1, order.map((e) => JSON.parse(e).type).join(' → '));
    }
    // A one-off charge (no invoice anywhere) still publishes its own payment.succeeded.
    const ws = await workspace('one-off');
    await deliver(ws, [
      stripeEvent('charge.succeeded', {
        id: 'ch_one',
        object: 'charge',
        status: 'succeeded',
        amount: 500,
        currency: 'eur',
        payment_intent: 'pi_one',
      }),
    ]);
    assert.equal((await get(ws, '/messages?type=payment.succeeded')).data.length, 1);
  });

  test('products and prices seen only in subscription items and invoice lines are listed; their own events fill them in, in any order', async () => {
    const sub = stripeEvent(
      'customer.subscription.created',
      subscription('active', {
        id: 'sub_cat',
        customer: 'cus_cat',
        items: {
          object: 'list',
          data: [
            {
              id: 'si_cat',
              quantity: 1,
              price: {
                id: 'price_cat',
                object: 'price',
                product: 'prod_cat',
                unit_amount: 1200,
                currency: 'eur',
                nickname: 'Monthly',
                recurring: { interval: 'month', interval_count: 1 },
              },
            },
          ],
        },
      }),
      { created: T0 },
    );
    const invoice = stripeEvent(
      'invoice.paid',
      {
        id: 'in_cat',
        object: 'invoice',
        customer: 'cus_cat',
        status: 'paid',
        amount_paid: 300,
        currency: 'eur',
        lines: {
          object: 'list',
          data: [{ id: 'il_cat', pricing: { type: 'price_details', price_details: { price: 'price_line', product: 'prod_line' } } }],
        },
      },
      { created: T0 },
    );
    const product = stripeEvent(
      'product.created',
      { id: 'prod_cat', object: 'product', name: 'Gazette', active: true },
      { created: T0 + 5 },
    );

    for (const order of [
      [sub, invoice, product],
      [product, sub, invoice],
    ]) {
      const ws = await workspace('catalogue');
      await deliver(ws, order);
      const products = Object.fromEntries((await get(ws, '/products')).data.map((r: any) => [r.providerId, r]));
      const prices = Object.fromEntries((await get(ws, '/prices')).data.map((r: any) => [r.providerId, r]));
      assert.deepEqual(Object.keys(products).sort(), ['prod_cat', 'prod_line']);
      assert.deepEqual(Object.keys(prices).sort(), ['price_cat', 'price_line']);
      assert.equal(products.prod_cat.name, 'Gazette', 'the product event fills in (or keeps) the name whatever the order');
      assert.equal(prices.price_cat.unitAmount, 1200);
      assert.equal(prices.price_cat.recurringInterval, 'month');
      assert.equal(prices.price_cat.productProviderId, 'prod_cat');
      assert.equal(prices.price_line.productProviderId, 'prod_line');
    }
  });

  test('rebuild: no changes on an untouched workspace; restores deleted rows with --apply, publishing nothing', async () => {
    const ws = await workspace('rebuild');
    await deliver(ws, [
      stripeEvent('customer.created', { id: 'cus_rb', email: 'rb@example.com' }, { created: T0 }),
      stripeEvent('customer.subscription.created', subscription('active', { id: 'sub_rb', customer: 'cus_rb' }), { created: T0 + 1 }),
      stripeEvent(
        'invoice.paid',
        { id: 'in_rb', object: 'invoice', customer: 'cus_rb', status: 'paid', subscription: 'sub_rb' },
        { created: T0 + 2 },
      ),
    ]);
    const messagesBefore = (await get(ws, '/messages')).data.length;
    const clean = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, {});
    assert.equal(clean.status, 200);
    assert.equal(clean.body.events, 3);
    for (const [table, t] of Object.entries<any>(clean.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 }, table);

    const sub = (await get(ws, '/subscriptions')).data[0];
    await app.db.query('DELETE FROM subscriptions WHERE workspace_id = $1', [ws]);
    await app.db.query("UPDATE invoices SET status = 'void' WHERE workspace_id = $1", [ws]);
    const dry = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, { apply: false });
    assert.deepEqual(dry.body.tables.subscriptions, { added: 1, changed: 0, removed: 0 });
    assert.deepEqual(dry.body.tables.invoices, { added: 0, changed: 1, removed: 0 });
    assert.deepEqual((await get(ws, '/subscriptions')).data, [], 'a dry run changes nothing');

    const applied = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, { apply: true });
    assert.equal(applied.body.applied, true);
    const restored = (await get(ws, '/subscriptions')).data[0];
    assert.equal(restored.providerId, sub.providerId);
    assert.equal(restored.status, 'active');
    assert.equal((await get(ws, '/invoices')).data[0].status, 'paid');
    assert.equal((await get(ws, '/messages')).data.length, messagesBefore, 'a rebuild publishes nothing');
    const again = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, {});
    for (const t of Object.values<any>(again.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 });
  });

  test('refunds listed on a charge become payment rows of their own; checkout sessions are readable', async () => {
    const ws = await workspace('refunds');
    const charge = (refunds: Record<string, unknown>[], amountRefunded: number) => ({
      id: 'ch_ref',
      object: 'charge',
      customer: 'cus_ref',
      status: 'succeeded',
      amount: 2000,
      amount_refunded: amountRefunded,
      currency: 'eur',
      payment_intent: 'pi_ref',
      refunds: { object: 'list', data: refunds },
    });
    const refund = (id: string, amount: number, status: string) => ({
      id,
      object: 'refund',
      amount,
      currency: 'eur',
      status,
      charge: 'ch_ref',
      reason: 'requested_by_customer',
    });
    await deliver(ws, [
      stripeEvent('charge.succeeded', charge([], 0), { created: T0 }),
      stripeEvent('charge.refunded', charge([refund('re_1', 500, 'succeeded')], 500), { created: T0 + 10 }),
      stripeEvent('charge.refunded', charge([refund('re_2', 700, 'pending'), refund('re_1', 500, 'succeeded')], 1200), {
        created: T0 + 20,
      }),
      stripeEvent(
        'checkout.session.completed',
        {
          id: 'cs_ref',
          object: 'checkout.session',
          customer: 'cus_ref',
          mode: 'payment',
          status: 'complete',
          payment_status: 'paid',
          amount_total: 2000,
          currency: 'eur',
          payment_intent: 'pi_ref',
        },
        { created: T0 - 10 },
      ),
    ]);
    const refunds = (await get(ws, '/payments?kind=refund')).data.sort((a: any, b: any) => a.providerId.localeCompare(b.providerId));
    assert.deepEqual(
      refunds.map((r: any) => [r.providerId, r.amount, r.status, r.chargeProviderId, r.failureMessage]),
      [
        ['re_1', 500, 'succeeded', 'ch_ref', 'requested_by_customer'],
        ['re_2', 700, 'pending', 'ch_ref', 'requested_by_customer'],
      ],
    );
    assert.equal((await get(ws, '/payments?kind=charge')).data[0].amountRefunded, 1200);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/payments?kind=nonsense`)).status, 400);
    const refundMessages = (await get(ws, '/messages?type=order.refunded')).data;
    assert.equal(refundMessages.length, 2, 'one order.refunded per increase of the refunded amount');

    const sessions = (await get(ws, '/checkout-sessions')).data;
    assert.deepEqual(
      sessions.map((c: any) => [c.providerId, c.status, c.paymentStatus, c.amountTotal]),
      [['cs_ref', 'complete', 'paid', 2000]],
    );
    const customer = await get(ws, '/customers/cus_ref');
    assert.deepEqual(
      customer.checkoutSessions.map((c: any) => c.providerId),
      ['cs_ref'],
    );
    assert.equal(customer.payments.length, 3, 'the charge and its two refunds');
  });
});
