import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subscriptionValues } from './normalize.js';

const subscription = (extra: Record<string, unknown>) => ({
  id: 'sub_1',
  object: 'subscription',
  status: 'active',
  customer: 'cus_1',
  items: { data: [{ id: 'si_1', price: { id: 'price_1', product: 'prod_1' }, quantity: 1 }] },
  ...extra,
});

test('pause_collection is kept as Stripe sends it; the status stays active', () => {
  const paused = subscriptionValues(subscription({ pause_collection: { behavior: 'void', resumes_at: 1_800_000_000 } }));
  assert.deepEqual(paused.pause_collection, { behavior: 'void', resumes_at: 1_800_000_000 });
  assert.equal(paused.status, 'active');
  const indefinitely = subscriptionValues(subscription({ pause_collection: { behavior: 'mark_uncollectible', resumes_at: null } }));
  assert.deepEqual(indefinitely.pause_collection, { behavior: 'mark_uncollectible', resumes_at: null });
});

test('no pause_collection (null, absent in older payloads, or malformed) reads as not paused', () => {
  assert.equal(subscriptionValues(subscription({ pause_collection: null })).pause_collection, null);
  assert.equal(subscriptionValues(subscription({})).pause_collection, null);
  for (const junk of ['void', 42, true, ['void']]) {
    assert.equal(subscriptionValues(subscription({ pause_collection: junk })).pause_collection, null, JSON.stringify(junk));
  }
});
