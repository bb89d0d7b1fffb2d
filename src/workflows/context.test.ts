// The evaluation context built from plain inputs: event = the object plus action, trigger facts, defaults.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildContext } from './context.js';

const run = { id: 'run_1', attempt: 1, mode: 'live' as const };

describe('buildContext', () => {
  test('Stripe: event is data.object plus action; trigger carries the envelope', () => {
    const ctx = buildContext({
      event: {
        source: 'stripe',
        type: 'customer.subscription.updated',
        id: 'ev_row_1',
        payload: {
          id: 'evt_1',
          created: 1764547200,
          livemode: true,
          data: { object: { id: 'sub_1', status: 'active', action: 'theirs' }, previous_attributes: { status: 'trialing' } },
        },
      },
      run,
    });
    assert.deepEqual(ctx.event, { id: 'sub_1', status: 'active', action: 'updated' });
    assert.deepEqual(ctx.trigger, {
      id: 'ev_row_1',
      type: 'stripe.customer.subscription.updated',
      source: 'stripe',
      object: 'subscription',
      created: '2025-12-01T00:00:00.000Z',
      livemode: true,
      previousAttributes: { status: 'trialing' },
      recovered: false,
    });
    assert.equal(ctx.customer, null);
    assert.deepEqual(ctx.steps, {});
    assert.deepEqual(ctx.secrets, {});
  });

  test('business and custom events: event is data plus action', () => {
    const ctx = buildContext({
      event: {
        source: 'sluice',
        type: 'subscription.canceled',
        id: 'msg_1',
        payload: { subscription: { id: 'sub_1' }, endsAt: '2026-12-01T00:00:00.000Z' },
        created: new Date('2026-11-22T10:00:00Z'),
        recovered: true,
      },
      customer: { id: 'cus_1', email: 'a@b.c', name: null, tags: ['vip'], attributes: {}, access: [] },
      steps: { a: { output: 1 } },
      run,
    });
    assert.equal(ctx.event.action, 'canceled');
    assert.deepEqual(ctx.event.subscription, { id: 'sub_1' });
    assert.equal(ctx.trigger.type, 'subscription.canceled');
    assert.equal(ctx.trigger.created, '2026-11-22T10:00:00.000Z');
    assert.equal(ctx.trigger.recovered, true);
    assert.equal(ctx.customer?.email, 'a@b.c');
    assert.deepEqual(ctx.steps, { a: { output: 1 } });
  });

  test('Piano: the payload itself, time from its timestamp', () => {
    const ctx = buildContext({
      event: { source: 'piano', type: 'user_updated', id: 'ev_2', payload: { type: 'user_updated', uid: 'u1', timestamp: '1777133250' } },
      run,
    });
    assert.equal(ctx.event.action, 'updated');
    assert.equal(ctx.event.uid, 'u1');
    assert.equal(ctx.trigger.object, 'user');
    assert.equal(ctx.trigger.created, new Date(1777133250 * 1000).toISOString());
    assert.equal(ctx.trigger.livemode, null);
  });

  test('a time a Date cannot hold is null, not a throw', () => {
    for (const timestamp of [9e12, 1e300, '99999999999999999999']) {
      const ctx = buildContext({ event: { source: 'piano', type: 'user_updated', id: 'ev_3', payload: { timestamp } }, run });
      assert.equal(ctx.trigger.created, null, String(timestamp));
    }
    const stripe = buildContext({ event: { source: 'stripe', type: 'invoice.paid', id: 'ev_4', payload: { created: 9e12 } }, run });
    assert.equal(stripe.trigger.created, null);
  });
});
