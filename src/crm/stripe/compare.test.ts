import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CrmRow } from '../../db/queries/crm.js';
import { answerMayApply, subscriptionDifferences } from './compare.js';
import { subscriptionValues } from './normalize.js';

const T = 1_790_000_000;
const object = {
  id: 'sub_1',
  status: 'active',
  customer: 'cus_1',
  cancel_at_period_end: false,
  current_period_start: T,
  current_period_end: T + 86400 * 30,
  items: { data: [{ id: 'si_1', price: { id: 'price_1', product: 'prod_1' }, quantity: 1 }] },
  metadata: { a: '1', b: '2' },
};
// A row as the database returns it: dates as Date, jsonb with its own key order.
const row = (over: Record<string, unknown> = {}): CrmRow => ({
  id: 'sub_row',
  deleted: false,
  stub: false,
  source_ts: new Date(T * 1000),
  ...JSON.parse(JSON.stringify(subscriptionValues(object))),
  current_period_start: new Date(T * 1000),
  current_period_end: new Date((T + 86400 * 30) * 1000),
  metadata: { b: '2', a: '1' },
  ...over,
});

test('a row that says what the object says has no differences, whatever the key order of its JSON', () => {
  assert.deepEqual(subscriptionDifferences(row(), object), []);
});

test('a changed status or period is a difference; a stub or a missing row differs in everything', () => {
  assert.deepEqual(subscriptionDifferences(row({ status: 'canceled' }), object), ['status']);
  assert.deepEqual(subscriptionDifferences(row({ current_period_end: new Date(0) }), object), ['current_period_end']);
  assert.ok(subscriptionDifferences(undefined, object).includes('status'));
  assert.ok(subscriptionDifferences(row({ stub: true }), object).includes('status'));
});

test('an answer applies only when the row was written before the second it was fetched in', () => {
  const fetched = (T + 10) * 1000 + 400;
  assert.equal(answerMayApply(row(), fetched), true);
  assert.equal(answerMayApply(row({ source_ts: new Date((T + 10) * 1000) }), fetched), false, 'same second: the row stands');
  assert.equal(answerMayApply(row({ source_ts: new Date((T + 60) * 1000) }), fetched), false, 'a newer row stands');
  assert.equal(answerMayApply(row({ deleted: true }), fetched), false, 'a tombstone is final');
  assert.equal(answerMayApply(undefined, fetched), true);
});
