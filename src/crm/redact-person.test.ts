import assert from 'node:assert/strict';
import { test } from 'node:test';
import { personNeedles, redactValue, type Removed } from './redact-person.js';

const person = { ids: new Set(['cus_1']), needles: personNeedles(['ada@example.com', 'Ada Lovelace']) };

test('the person’s own objects lose their personal fields; ids, amounts and other objects stay', () => {
  const invoice = {
    id: 'in_1',
    object: 'invoice',
    customer: 'cus_1',
    customer_email: 'ada@example.com',
    customer_address: { line1: '12 Square', country: 'GB' },
    amount_paid: 1000,
    lines: { data: [{ price: { product: { id: 'prod_1', name: 'Pro plan' } } }] },
  };
  const out = redactValue(invoice, person) as typeof invoice;
  assert.equal(out.id, 'in_1');
  assert.equal(out.customer, 'cus_1');
  assert.equal(out.customer_email, null);
  assert.deepEqual(out.customer_address, { line1: null, country: null });
  assert.equal(out.amount_paid, 1000);
  assert.equal(out.lines.data[0]!.price.product.name, 'Pro plan', 'a product name is not the person’s');
});

test('known values are replaced inside any text, case-insensitively, keys included', () => {
  const out = redactValue({ note: 'Call ADA@example.com today', tags: { 'ada lovelace': true } }, person);
  assert.deepEqual(out, { note: 'Call [erased] today', tags: { '[erased]': true } });
});

test('someone else’s customer object is left alone', () => {
  const bob = { id: 'cus_2', object: 'customer', email: 'bob@example.com', name: 'Bob' };
  assert.deepEqual(redactValue(bob, person), bob);
});

test('previous_attributes of the person’s object are redacted and their old values collected', () => {
  const removed: Removed = { fields: new Set(), all: new Set() };
  const event = {
    object: 'event',
    data: { object: { id: 'cus_1', object: 'customer', email: 'ada@example.com' }, previous_attributes: { email: 'old@example.org' } },
  };
  const out = redactValue(event, person, removed) as typeof event;
  assert.equal(out.data.previous_attributes.email, null);
  assert.ok(removed.fields.has('old@example.org'));
});

test('short values are not used as search needles', () => {
  assert.deepEqual(personNeedles(['Al', ' ', null, 'ada@example.com', 'ADA@example.com']), ['ada@example.com']);
});
