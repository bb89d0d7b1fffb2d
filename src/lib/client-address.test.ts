import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limitedAddress } from './client-address.js';

test('IPv4 as it is, IPv4-mapped as IPv4, IPv6 as its /64', () => {
  assert.equal(limitedAddress('203.0.113.7'), '203.0.113.7');
  assert.equal(limitedAddress('::ffff:203.0.113.7'), '203.0.113.7');
  assert.equal(limitedAddress('2001:db8:7:9::1'), limitedAddress('2001:db8:7:9:ffff:ffff:ffff:ffff'));
  assert.equal(limitedAddress('2001:db8:7:9::1'), '2001:db8:7:9::/64');
  assert.notEqual(limitedAddress('2001:db8:7:9::1'), limitedAddress('2001:db8:7:a::1'));
  assert.equal(limitedAddress('not an address'), 'not an address');
});
