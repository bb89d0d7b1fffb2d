// Piano subscriptions → CRM rows and business events: version 1 payloads (`type` subscription, what happened in
// `event`) and version 2 renewals. Piano events carry no id and these often no time, so the rows must end the
// same and each fact be published once whatever the delivery order or the number of deliveries.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { pianoData, sendPiano } from '../helpers/piano.js';

const KEY = 'PianoSubscriptionKey0123456789abcdefghij';
const AID = 'AppSubs123';
const P1 = 1_800_000_000; // end of the first renewed period
const P2 = P1 + 30 * 86400; // end of the second
const DEBOUNCE_MS = 4000;

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

describe('Piano subscriptions → CRM', () => {
  let app: TestApp;
  /** When the customer's parity check is due (bookkeeping the API does not show), as an ISO string or null. */
  async function checkDueAt(ws: string, customer: string): Promise<string | null> {
    const { rows } = await app.db.query<{ check_due_at: Date | null }>(
      'SELECT check_due_at FROM customers WHERE workspace_id = $1 AND (id = $2 OR provider_id = $2)',
      [ws, customer],
    );
    return rows[0]?.check_due_at?.toISOString() ?? null;
  }
  before(async () => {
    app = await startTestApp({ config: { checkDebounceMs: DEBOUNCE_MS } });
  });
  after(() => app.close());

  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
  const get = async (ws: string, path: string) => (await call('GET', ws, path)).body;
  async function workspace(name: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    const res = await call('PUT', ws, '/connections/piano', { aid: AID, privateKey: KEY });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return ws;
  }
  async function deliver(ws: string, payloads: Record<string, unknown>[]): Promise<void> {
    for (const p of payloads) {
      const res = await sendPiano(app.url, ws, pianoData({ aid: AID, ...p }, KEY));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitFor(async () => (await get(ws, '/events?status=received')).data.length === 0, 'processing');
  }
  const business = async (ws: string) =>
    ((await get(ws, '/messages?limit=500')).data as any[]).filter((m) => !m.type.startsWith('piano.')).reverse();
  const typesOf = (messages: any[]) => messages.map((m) => m.type as string).sort();

  const v1 = { type: 'subscription', uid: 'reader1', user_email: 'reader1@example.com', rid: 'RPREMIUM', term_id: 'TMMONTH' };
  const renewal1 = { ...v1, event: 'subscription_auto_renewed', subscription_id: 'RCSUB1', next_bill_date: P1, expires: P1 };
  const renewal2 = { ...v1, event: 'subscription_auto_renewed', subscription_id: 'RCSUB1', next_bill_date: P2, expires: P2 };
  const ended = { ...v1, event: 'subscription_ended', subscription_id: 'RCSUB1', expires: P2 };
  // The same renewal delivered again, in another spelling (another field order and an extra title): another
  // stored event (its text differs), the same fact.
  const renewal1Again = { typeTitle: 'Subscription', ...renewal1, aid: AID };

  test('auto-renewed twice then ended, in every delivery order and with a duplicate: the same row, each fact once', async () => {
    const orders = permutations([renewal1, renewal2, ended]);
    for (const [i, order] of orders.entries()) {
      const ws = await workspace(`v1 order ${i}`);
      const before = Date.now();
      await deliver(ws, [...order, renewal1Again]);
      const after = Date.now();
      const events = (await get(ws, '/events?provider=piano')).data as any[];
      assert.equal(events.length, 4, `order ${i}`);
      assert.deepEqual(new Set(events.map((e) => e.status)), new Set(['processed']), `order ${i}: none failed or ignored`);

      const subs = (await get(ws, '/subscriptions')).data as any[];
      assert.equal(subs.length, 1, `order ${i}`);
      const [sub] = subs;
      assert.equal(sub.provider, 'piano');
      assert.equal(sub.providerId, 'RCSUB1');
      assert.equal(sub.status, 'canceled', `order ${i}`);
      assert.equal(sub.productProviderId, 'RPREMIUM', 'the rid, for the access map');
      assert.equal(sub.priceProviderId, 'TMMONTH');
      assert.deepEqual(sub.items, [{ product: 'RPREMIUM', rid: 'RPREMIUM', term: 'TMMONTH' }]);
      assert.equal(sub.endedAt, new Date(P2 * 1000).toISOString(), `order ${i}`);
      assert.equal(sub.currentPeriodEnd, new Date(P2 * 1000).toISOString(), `order ${i}`);

      const customer = await get(ws, `/customers/${sub.customerId}`);
      assert.equal(customer.provider, 'piano');
      assert.equal(customer.providerId, 'reader1');
      assert.equal(customer.email, 'reader1@example.com');
      assert.deepEqual(
        customer.subscriptions.map((s: any) => s.providerId),
        ['RCSUB1'],
      );
      // Marked due for a parity check, debounced from the processing time.
      const dueAt = await checkDueAt(ws, sub.customerId);
      const due = Date.parse(dueAt ?? '');
      assert.ok(due >= before + DEBOUNCE_MS && due <= after + DEBOUNCE_MS, `order ${i}: checkDueAt ${dueAt}`);

      const messages = await business(ws);
      assert.deepEqual(
        typesOf(messages),
        [
          'customer.created',
          'subscription.canceled',
          'subscription.created',
          'subscription.ended',
          'subscription.renewed',
          'subscription.renewed',
        ],
        `order ${i}`,
      );
      const renewed = messages.filter((m) => m.type === 'subscription.renewed').map((m) => m.data.renewedUntil);
      assert.deepEqual(renewed.sort(), [new Date(P1 * 1000).toISOString(), new Date(P2 * 1000).toISOString()], `order ${i}`);
      const endedMessage = messages.find((m) => m.type === 'subscription.ended');
      assert.equal(endedMessage.data.subscription.status, 'canceled');
      assert.equal(endedMessage.data.subscription.resource, 'RPREMIUM');
      assert.equal(endedMessage.data.subscription.customerId, sub.customerId);
      assert.equal(endedMessage.source.provider, 'piano');

      // Delivered all over again: nothing new.
      await deliver(ws, [renewal2, { ...ended, eventTitle: 'Subscription ended' }, { ...renewal1, typeTitle: 'again' }]);
      assert.equal((await business(ws)).length, messages.length, `order ${i}: a redelivery publishes nothing`);

      if (i === 0) {
        // A rebuild from the stored events lands on the same rows, publishes nothing, and neither drops the
        // pending check nor asks for a new one.
        const rebuild = await call('POST', ws, '/rebuild', { apply: true });
        assert.equal(rebuild.status, 200, JSON.stringify(rebuild.body));
        for (const [table, t] of Object.entries<any>(rebuild.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 }, table);
        assert.equal((await business(ws)).length, messages.length);
        assert.equal(await checkDueAt(ws, sub.customerId), dueAt);
        // The check ran meanwhile (its due time cleared): a rebuild re-projects every change but marks nobody.
        await app.db.query('UPDATE customers SET check_due_at = NULL WHERE workspace_id = $1', [ws]);
        assert.equal((await call('POST', ws, '/rebuild', { apply: true })).status, 200);
        assert.equal(await checkDueAt(ws, sub.customerId), null);
      }
    }
  });

  test('the first renewal opens the row; each later renewal is its own subscription.renewed; a switch of auto-renewal', async () => {
    const ws = await workspace('v1 lifecycle');
    await deliver(ws, [renewal1]);
    let [sub] = (await get(ws, '/subscriptions')).data;
    assert.equal(sub.status, 'active');
    assert.equal(sub.currentPeriodEnd, new Date(P1 * 1000).toISOString());
    assert.deepEqual(typesOf(await business(ws)), ['customer.created', 'subscription.created', 'subscription.renewed']);

    // Auto-renewal switched off (no date, no time: applies in delivery order) → a cancellation at the period end.
    await deliver(ws, [{ ...v1, event: 'subscription_updated', subscription_id: 'RCSUB1', auto_renew: false }]);
    [sub] = (await get(ws, '/subscriptions')).data;
    assert.equal(sub.status, 'active', 'still running until the period ends');
    assert.equal(sub.cancelAtPeriodEnd, true);
    const canceled = (await business(ws)).find((m) => m.type === 'subscription.canceled');
    assert.equal(canceled.data.endsAt, new Date(P1 * 1000).toISOString());

    // Switched back on, then renewed: updated, renewed.
    await deliver(ws, [{ ...v1, event: 'subscription_updated', subscription_id: 'RCSUB1', auto_renew: 'true' }, renewal2]);
    [sub] = (await get(ws, '/subscriptions')).data;
    assert.equal(sub.cancelAtPeriodEnd, false);
    assert.equal(sub.currentPeriodEnd, new Date(P2 * 1000).toISOString());
    assert.deepEqual(typesOf(await business(ws)), [
      'customer.created',
      'subscription.canceled',
      'subscription.created',
      'subscription.renewed',
      'subscription.renewed',
      'subscription.updated',
    ]);

    // A failed renewal → past_due (no renewal); a later successful one → active again, activated once.
    const failed = { ...v1, event: 'subscription_auto_renewed_failure', subscription_id: 'RCSUB1', next_bill_date: P2 + 86400 };
    await deliver(ws, [failed]);
    assert.equal((await get(ws, '/subscriptions')).data[0].status, 'past_due');
    const P3 = P2 + 30 * 86400;
    await deliver(ws, [{ ...renewal2, next_bill_date: P3, expires: P3 }]);
    assert.equal((await get(ws, '/subscriptions')).data[0].status, 'active');
    const counts = (await business(ws)).reduce<Record<string, number>>((c, m) => ({ ...c, [m.type]: (c[m.type] ?? 0) + 1 }), {});
    assert.equal(counts['subscription.renewed'], 3);
    assert.equal(counts['subscription.activated'], 1);
    assert.equal(counts['subscription.ended'], undefined);
  });

  test('a renewal failure without any date never overrules a dated renewal: the same row in every delivery order', async () => {
    // A failed renewal with neither a time nor a period (the renewal it failed cannot be told) and a renewal Piano
    // dated by the period it opens: whichever arrives last, the subscription is active until P1.
    const failedUndated = { ...v1, event: 'subscription_auto_renewed_failure', subscription_id: 'RCSUB1' };
    // An auto-renewal switch with neither a time nor a date: applies in delivery order, but says nothing of which
    // fact is newer, so it must not let an undated failure (or an older renewal) overrule a dated renewal either.
    const switchedOff = { ...v1, event: 'subscription_updated', subscription_id: 'RCSUB1', auto_renew: false };
    for (const [i, order] of [
      ...permutations([renewal1, failedUndated]),
      ...permutations([renewal1, failedUndated, switchedOff]),
    ].entries()) {
      const ws = await workspace(`undated failure ${i}`);
      await deliver(ws, order);
      const [sub, ...more] = (await get(ws, '/subscriptions')).data;
      assert.equal(more.length, 0);
      assert.equal(sub.status, 'active', `order ${i}: ${order.map((p) => p.event).join(' → ')}`);
      assert.equal(sub.currentPeriodEnd, new Date(P1 * 1000).toISOString(), `order ${i}`);
      assert.equal(sub.cancelAtPeriodEnd, order.includes(switchedOff), `order ${i}`);
      if (i === 0) {
        const rebuild = await call('POST', ws, '/rebuild', { apply: true });
        for (const [table, t] of Object.entries<any>(rebuild.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 }, table);
      }
    }

    // Neither dated: the renewal still wins (a failure is retried until a renewal succeeds; a failure after the
    // success of the same renewal does not happen), in both orders.
    const renewedUndated = { ...v1, event: 'subscription_auto_renewed', subscription_id: 'RCSUB1' };
    for (const [i, order] of permutations([renewedUndated, failedUndated]).entries()) {
      const ws = await workspace(`undated both ${i}`);
      await deliver(ws, order);
      assert.equal((await get(ws, '/subscriptions')).data[0].status, 'active', `both undated, order ${i}`);
    }

    // Alone, an undated failure still says what it says; with a switch, in either order.
    for (const [i, order] of [[failedUndated], ...permutations([failedUndated, switchedOff])].entries()) {
      const ws = await workspace(`undated failure alone ${i}`);
      await deliver(ws, order);
      assert.equal((await get(ws, '/subscriptions')).data[0].status, 'past_due', `alone, order ${i}`);
    }

    // A failure dated by the bill date the last renewal set (the renewal due then failed) is newer than that renewal.
    const failedAtP1 = { ...v1, event: 'subscription_auto_renewed_failure', subscription_id: 'RCSUB1', next_bill_date: P1 };
    for (const [i, order] of permutations([renewal1, failedAtP1]).entries()) {
      const ws = await workspace(`failure at the bill date ${i}`);
      await deliver(ws, order);
      assert.equal((await get(ws, '/subscriptions')).data[0].status, 'past_due', `dated failure, order ${i}`);
    }
  });

  test('a timed renewal failure without a period and an untimed renewal: the bill date the renewal set decides, in both orders', async () => {
    // The renewal set the next bill date P1, so it answered every attempt to renew before P1: a failure timed before
    // P1 is older than it (active), a failure timed at or after P1 is the attempt to renew at P1 (past_due). Either
    // way the period is the renewal's, whichever arrives first.
    const renewed = { ...renewal1, auto_renew: true };
    for (const [at, status] of [
      [P1 - 86400, 'active'],
      [P1, 'past_due'],
      [P1 + 3600, 'past_due'],
    ] as const) {
      const failed = { ...v1, event: 'subscription_auto_renewed_failure', subscription_id: 'RCSUB1', timestamp: at };
      const rows: unknown[] = [];
      for (const [i, order] of permutations<Record<string, unknown>>([renewed, failed]).entries()) {
        const ws = await workspace(`timed failure ${at - P1} ${i}`);
        for (const p of order) await deliver(ws, [p]); // one at a time: projected in exactly this order
        const label = `failure ${at - P1}s from the bill date, ${order.map((p) => (p.timestamp ? 'failure' : 'renewal')).join(' → ')}`;
        const [sub, ...more] = (await get(ws, '/subscriptions')).data;
        assert.equal(more.length, 0, label);
        assert.equal(sub.status, status, label);
        assert.equal(sub.currentPeriodEnd, new Date(P1 * 1000).toISOString(), label);
        assert.equal(sub.cancelAtPeriodEnd, false, label);
        const { status: s, currentPeriodEnd, cancelAtPeriodEnd, endedAt, priceProviderId, productProviderId, items } = sub;
        rows.push({ s, currentPeriodEnd, cancelAtPeriodEnd, endedAt, priceProviderId, productProviderId, items });
        if (i === 0) {
          const rebuild = await call('POST', ws, '/rebuild', { apply: true });
          for (const [table, t] of Object.entries<any>(rebuild.body.tables))
            assert.deepEqual(t, { added: 0, changed: 0, removed: 0 }, table);
        }
        // The failure's place does not hold back the next renewal.
        await deliver(ws, [renewal2]);
        const [next] = (await get(ws, '/subscriptions')).data;
        assert.equal(next.status, 'active', `${label} → next renewal`);
        assert.equal(next.currentPeriodEnd, new Date(P2 * 1000).toISOString(), `${label} → next renewal`);
      }
      assert.deepEqual(rows[0], rows[1], `failure ${at - P1}s from the bill date: the same row in both orders`);
    }
  });

  test('an undated switch does not move the row back in the order: a renewal delivered again after it changes nothing', async () => {
    const switchedOff = { ...v1, event: 'subscription_updated', subscription_id: 'RCSUB1', auto_renew: false };
    for (const [i, order] of permutations([renewal1, renewal2, switchedOff]).entries()) {
      const ws = await workspace(`switch and renewals ${i}`);
      await deliver(ws, order);
      const [sub] = (await get(ws, '/subscriptions')).data;
      assert.equal(sub.currentPeriodEnd, new Date(P2 * 1000).toISOString(), `order ${i}: ${order.map((p) => p.event).join(' → ')}`);
      assert.equal(sub.cancelAtPeriodEnd, true, `order ${i}`);
      assert.equal(sub.status, 'active');
    }
  });

  test('with an event time, time decides: an older renewal arriving after the end changes nothing, a later one reopens', async () => {
    const ws = await workspace('v1 timed');
    const T = 1_790_000_000;
    await deliver(ws, [
      { ...ended, timestamp: T + 100 },
      { ...renewal1, timestamp: T }, // older than the end: the row stays ended, the renewal is still a fact
    ]);
    let [sub] = (await get(ws, '/subscriptions')).data;
    assert.equal(sub.status, 'canceled');
    assert.deepEqual(typesOf(await business(ws)), [
      'customer.created',
      'subscription.canceled',
      'subscription.created',
      'subscription.ended',
      'subscription.renewed',
    ]);
    await deliver(ws, [{ ...renewal2, event: 'subscription_manually_renewed', timestamp: T + 200 }]);
    [sub] = (await get(ws, '/subscriptions')).data;
    assert.equal(sub.status, 'active');
    assert.equal(sub.endedAt, null);
    const types = typesOf(await business(ws));
    assert.equal(types.filter((t) => t === 'subscription.activated').length, 1);
    // Ending again is not a second subscription.ended: the fact is published once per subscription.
    await deliver(ws, [{ ...ended, timestamp: T + 300 }]);
    assert.equal((await get(ws, '/subscriptions')).data[0].status, 'canceled');
    assert.equal(typesOf(await business(ws)).filter((t) => t === 'subscription.ended').length, 1);
  });

  test('version 2 renewals keep the rid; odd payloads are processed, never failed', async () => {
    const ws = await workspace('v2 and odd');
    const v2 = {
      version: 2,
      type: 'subscription_renewal',
      event: 'subscription_auto_renewed',
      uid: 'reader2',
      rid: 'RBASIC',
      term_id: 'TMYEAR',
      subscription_id: 'RCSUB2',
      status: 'active',
      next_bill_date: P1,
      auto_renew: true,
    };
    await deliver(ws, [v2, { ...v2, event: 'subscription_auto_renewed', next_bill_date: String(P2) }]);
    const [sub] = (await get(ws, '/subscriptions')).data;
    assert.equal(sub.productProviderId, 'RBASIC');
    assert.deepEqual(sub.items, [{ product: 'RBASIC', rid: 'RBASIC', term: 'TMYEAR' }]);
    assert.equal(sub.currentPeriodEnd, new Date(P2 * 1000).toISOString());
    assert.equal(typesOf(await business(ws)).filter((t) => t === 'subscription.renewed').length, 2);

    await deliver(ws, [
      // no subscription id, no user: nothing to key a row on
      { type: 'subscription', event: 'subscription_auto_renewed' },
      // no subscription id: keyed by user and resource
      { type: 'subscription', event: 'subscription_ended', uid: 'reader3', rid: 'RX', expires: P1 },
      // dates no timestamp can hold, a status Piano never sent, fields of the wrong type
      {
        type: 'subscription',
        event: 'subscription_something_new',
        uid: 'reader4',
        subscription_id: 'RCSUB4',
        expires: 1e300,
        next_bill_date: 'soon',
        status: 'dormant',
        auto_renew: 'perhaps',
        rid: { nested: true },
      },
    ]);
    const events = (await get(ws, '/events?provider=piano')).data as any[];
    assert.deepEqual(
      events.filter((e) => e.status !== 'processed').map((e) => `${e.type}:${e.status}:${e.error}`),
      [],
    );
    const byId = Object.fromEntries(((await get(ws, '/subscriptions')).data as any[]).map((s) => [s.providerId, s]));
    assert.equal(byId['reader3:RX'].status, 'canceled');
    assert.equal(byId['reader3:RX'].productProviderId, 'RX');
    assert.equal(byId.RCSUB4.status, 'active', 'first known, nothing said about its status');
    assert.equal(byId.RCSUB4.currentPeriodEnd, null);
    assert.equal(byId.RCSUB4.productProviderId, null);
    assert.equal(Object.keys(byId).length, 3);
  });

  test('a customer touched only by a user event is not marked due; an access change marks it', async () => {
    const ws = await workspace('check due');
    await deliver(ws, [{ version: 2, type: 'user_created', event: 'user_created', uid: 'reader5', timestamp: String(P1) }]);
    assert.equal(await checkDueAt(ws, 'reader5'), null);
    await deliver(ws, [
      { version: 2, type: 'access_granted', event: 'new_purchase', uid: 'reader5', rid: 'R5', access_id: 'A5', expires: P1 },
    ]);
    assert.ok(await checkDueAt(ws, 'reader5'));
  });
});
