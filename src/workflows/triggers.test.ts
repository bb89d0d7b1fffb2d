// Triggers: events as (source, object, action), the offered lists, trigger checks and matching.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkTrigger, classifyEvent, matchTrigger, publishedType, triggerObjects } from './triggers.js';

describe('classifyEvent', () => {
  test('Stripe types by the longest known prefix', () => {
    assert.deepEqual(classifyEvent({ source: 'stripe', type: 'checkout.session.completed' }), {
      object: 'checkout_session',
      action: 'completed',
    });
    assert.deepEqual(classifyEvent({ source: 'stripe', type: 'customer.subscription.deleted' }), {
      object: 'subscription',
      action: 'deleted',
    });
    assert.deepEqual(classifyEvent({ source: 'stripe', type: 'charge.dispute.created' }), { object: 'charge', action: 'dispute.created' });
    assert.deepEqual(classifyEvent({ source: 'stripe', type: 'customer.updated' }), { object: 'customer', action: 'updated' });
  });

  test('business and custom events the same way', () => {
    assert.deepEqual(classifyEvent({ source: 'sluice', type: 'subscription.canceled' }), { object: 'subscription', action: 'canceled' });
    assert.deepEqual(classifyEvent({ source: 'custom', type: 'course.enrolled' }), { object: 'course', action: 'enrolled' });
  });

  test('Piano types split on underscores; version 1 takes the action from the payload', () => {
    assert.deepEqual(classifyEvent({ source: 'piano', type: 'access_granted' }), { object: 'access', action: 'granted' });
    assert.deepEqual(classifyEvent({ source: 'piano', type: 'term_change_finished' }), { object: 'term', action: 'change_finished' });
    assert.deepEqual(classifyEvent({ source: 'piano', type: 'subscription_auto_renew_changed' }), {
      object: 'subscription',
      action: 'auto_renew_changed',
    });
    assert.deepEqual(classifyEvent({ source: 'piano', type: 'access', payload: { event: 'new_purchase' } }), {
      object: 'access',
      action: 'new_purchase',
    });
  });

  test('published names', () => {
    assert.equal(publishedType({ source: 'stripe', type: 'invoice.paid' }), 'stripe.invoice.paid');
    assert.equal(publishedType({ source: 'piano', type: 'access_granted' }), 'piano.access_granted');
    assert.equal(publishedType({ source: 'sluice', type: 'order.completed' }), 'order.completed');
  });
});

describe('the offered objects and actions', () => {
  test('Stripe: the eight objects of the trigger list with their actions', () => {
    const offers = triggerObjects('stripe');
    assert.deepEqual(
      offers.map((o) => o.object),
      ['checkout_session', 'payment_intent', 'subscription', 'invoice', 'charge', 'customer', 'product', 'price'],
    );
    const get = (o: string) => offers.find((x) => x.object === o)!.actions;
    assert.deepEqual(get('checkout_session'), ['completed', 'expired', 'async_payment_succeeded', 'async_payment_failed']);
    assert.ok(get('subscription').includes('deleted') && get('subscription').includes('trial_will_end'));
    assert.ok(get('invoice').includes('payment_failed') && get('invoice').includes('paid'));
    assert.ok(get('charge').includes('dispute.created') && get('charge').includes('refunded'));
    assert.deepEqual(get('customer'), ['created', 'updated', 'deleted']);
    assert.equal(offers.find((o) => o.object === 'checkout_session')!.label, 'checkout session');
  });

  test('sluice: the business events by prefix', () => {
    const sub = triggerObjects('sluice').find((o) => o.object === 'subscription')!;
    assert.deepEqual(sub.actions, ['created', 'activated', 'renewed', 'updated', 'canceled', 'ended']);
    assert.ok(triggerObjects('sluice').some((o) => o.object === 'order' && o.actions.includes('completed')));
  });

  test('piano and custom', () => {
    assert.deepEqual(triggerObjects('piano').find((o) => o.object === 'access')!.actions, ['granted', 'modified', 'revoked']);
    assert.deepEqual(triggerObjects('custom', ['course.enrolled', 'course.completed']), [
      { object: 'course', label: 'course', actions: ['enrolled', 'completed'] },
    ]);
  });
});

describe('checkTrigger', () => {
  test('valid triggers have no problems', () => {
    assert.deepEqual(checkTrigger({ source: 'stripe', object: 'checkout_session', actions: ['completed', 'expired'], if: 'true' }), []);
    assert.deepEqual(checkTrigger({ source: 'stripe', object: 'invoice' }), []);
    assert.deepEqual(
      checkTrigger({ source: 'stripe', object: 'refund', actions: ['created'] }),
      [],
      'other Stripe objects by the prefix table',
    );
    assert.deepEqual(checkTrigger({ source: 'sluice', object: 'subscription', actions: ['canceled'] }), []);
    assert.deepEqual(checkTrigger({ source: 'custom', object: 'course', actions: ['enrolled'] }), []);
    assert.deepEqual(checkTrigger({ type: 'stripe.invoice.paid' }), []);
  });

  test('unknown objects and actions, with suggestions', () => {
    const [o] = checkTrigger({ source: 'stripe', object: 'checkout_sesion' });
    assert.equal(o!.path, 'trigger.object');
    assert.match(o!.message, /unknown stripe object "checkout_sesion" \(did you mean "checkout_session"\?\)/);
    const [a] = checkTrigger({ source: 'sluice', object: 'subscription', actions: ['cancelled'] });
    assert.equal(a!.path, 'trigger.actions[0]');
    assert.match(a!.message, /unknown action "cancelled" for sluice subscription \(did you mean "canceled"\?\)/);
    assert.equal(checkTrigger({ source: 'stripe', object: 'order' }).length, 1, 'a business object is not a Stripe one');
  });

  test('shape problems, all listed', () => {
    const problems = checkTrigger({ source: 'stripe', object: 'invoice', actions: ['paid', 'paid', 7], extra: 1 });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['trigger.extra', 'trigger.actions[1]', 'trigger.actions[2]'],
    );
    assert.equal(checkTrigger({ source: 'zapier', object: 'x' })[0]!.path, 'trigger.source');
    assert.equal(checkTrigger({ source: 'stripe', object: 'invoice', actions: [] })[0]!.path, 'trigger.actions');
    assert.equal(checkTrigger({ type: 'subscription.*' })[0]!.path, 'trigger.type');
    assert.equal(checkTrigger({ type: 'x.y', source: 'stripe' })[0]!.path, 'trigger.source');
    assert.equal(checkTrigger(null)[0]!.path, 'trigger');
  });
});

describe('matchTrigger', () => {
  test('object and actions', () => {
    const t = { source: 'stripe' as const, object: 'checkout_session', actions: ['completed', 'expired'] };
    assert.equal(matchTrigger(t, { source: 'stripe', type: 'checkout.session.completed' }), true);
    assert.equal(matchTrigger(t, { source: 'stripe', type: 'checkout.session.async_payment_failed' }), false);
    assert.equal(matchTrigger(t, { source: 'sluice', type: 'checkout.session.completed' }), false);
    assert.equal(
      matchTrigger({ source: 'stripe', object: 'subscription' }, { source: 'stripe', type: 'customer.subscription.deleted' }),
      true,
    );
    assert.equal(
      matchTrigger({ source: 'stripe', object: 'customer' }, { source: 'stripe', type: 'customer.subscription.deleted' }),
      false,
    );
  });

  test('one business workflow serves both providers; exact types', () => {
    const t = { source: 'sluice' as const, object: 'subscription', actions: ['canceled'] };
    assert.equal(matchTrigger(t, { source: 'sluice', type: 'subscription.canceled' }), true);
    assert.equal(matchTrigger(t, { source: 'sluice', type: 'subscription.ended' }), false);
    assert.equal(matchTrigger({ type: 'stripe.invoice.paid' }, { source: 'stripe', type: 'invoice.paid' }), true);
    assert.equal(matchTrigger({ type: 'course.enrolled' }, { source: 'custom', type: 'course.enrolled' }), true);
    assert.equal(matchTrigger({ type: 'invoice.paid' }, { source: 'stripe', type: 'invoice.paid' }), false);
    assert.equal(
      matchTrigger({ source: 'piano', object: 'access', actions: ['granted'] }, { source: 'piano', type: 'access_granted' }),
      true,
    );
  });
});
