// The event catalog's pure parts: the filter matcher, the type check with suggestions, provider type →
// (object, action), and the custom type rule.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkEventType, customTypeProblem, editDistance, matchesEventType, objectAndAction, sampleData } from './index.js';

describe('event filter', () => {
  test('exact names, prefix.* at any depth, * and empty', () => {
    assert.equal(matchesEventType([], 'anything.at.all'), true);
    assert.equal(matchesEventType(['*'], 'a.b'), true);
    assert.equal(matchesEventType(['subscription.*'], 'subscription.canceled'), true);
    assert.equal(matchesEventType(['subscription.*'], 'subscriptions.x'), false);
    assert.equal(matchesEventType(['stripe.customer.*'], 'stripe.customer.subscription.created'), true);
    assert.equal(matchesEventType(['order.completed'], 'order.refunded'), false);
  });
});

describe('event type check', () => {
  test('known names, prefixes and provider types pass', () => {
    for (const name of [
      '*',
      'subscription.canceled',
      'subscription.*',
      'stripe.*',
      'piano.*',
      'stripe.invoice.paid',
      'stripe.customer.*',
      'piano.access_granted',
      'sluice.test',
      'incident.*',
    ]) {
      assert.equal(checkEventType(name).ok, true, name);
    }
  });

  test('typos are refused with the likely name', () => {
    assert.deepEqual(checkEventType('subscriptoin.*'), { ok: false, suggestion: 'subscription.*' });
    assert.deepEqual(checkEventType('subscription.cancelled'), { ok: false, suggestion: 'subscription.canceled' });
    assert.deepEqual(checkEventType('paymnet.failed'), { ok: false, suggestion: 'payment.failed' });
    assert.deepEqual(checkEventType('subscription'), { ok: false, suggestion: 'subscription.*' });
    assert.equal(checkEventType('subscription.paused').ok, false, 'unknown name under a business word');
    assert.equal(checkEventType('sluice.other').ok, false);
  });

  test('custom types: new ones pass, published ones are known, typos of them are refused', () => {
    assert.deepEqual(checkEventType('course.enrolled'), { ok: true, custom: true });
    assert.deepEqual(checkEventType('course.*'), { ok: true, custom: true });
    assert.equal(checkEventType('order.shipped').ok, false, 'under a business word, unknown until published');
    assert.deepEqual(checkEventType('order.shipped', ['order.shipped']), { ok: true });
    assert.deepEqual(checkEventType('lesson.complted', ['lesson.completed']), { ok: false, suggestion: 'lesson.completed' });
  });

  test('edit distance counts a swap of neighbours as one edit', () => {
    assert.equal(editDistance('subscriptoin', 'subscription'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  test('custom type rule: format and reserved prefixes, said plainly', () => {
    assert.equal(customTypeProblem('course.enrolled'), null);
    assert.equal(customTypeProblem('order.shipped'), null);
    assert.match(customTypeProblem('Course Enrolled!!')!, /lower-case letters, digits and underscores/);
    assert.match(customTypeProblem('course')!, /at least two/);
    assert.match(customTypeProblem('stripe.invoice.paid')!, /reserved prefix "stripe\."/);
    assert.match(customTypeProblem('incident.opened')!, /reserved prefix/);
    assert.match(customTypeProblem('subscription.canceled')!, /business event/);
  });
});

describe('provider type → (object, action)', () => {
  test('longest known object prefix', () => {
    assert.deepEqual(objectAndAction('checkout.session.completed'), { object: 'checkout_session', action: 'completed' });
    assert.deepEqual(objectAndAction('customer.subscription.deleted'), { object: 'subscription', action: 'deleted' });
    assert.deepEqual(objectAndAction('charge.dispute.created'), { object: 'charge', action: 'dispute.created' });
    assert.deepEqual(objectAndAction('subscription.canceled'), { object: 'subscription', action: 'canceled' });
    assert.deepEqual(objectAndAction('customer.created'), { object: 'customer', action: 'created' });
    assert.deepEqual(objectAndAction('invoice.payment_failed'), { object: 'invoice', action: 'payment_failed' });
    assert.deepEqual(objectAndAction('brand_new.thing.happened'), { object: 'brand_new', action: 'thing.happened' });
  });
});

describe('samples', () => {
  test('a sample for business types, an event shape for provider types, empty otherwise', () => {
    assert.ok((sampleData('subscription.canceled') as any).subscription.cancelAtPeriodEnd);
    assert.equal((sampleData('stripe.invoice.paid') as any).type, 'invoice.paid');
    assert.deepEqual(sampleData('course.enrolled'), {});
  });
});
