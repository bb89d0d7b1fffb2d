import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RETRY_WAIT_MS, retryWaitMs } from './scan-job.js';

test("a provider's Retry-After is honoured up to five minutes, for Stripe and Piano alike", () => {
  assert.equal(retryWaitMs(0, 1), 0);
  assert.equal(retryWaitMs(30, 1), 30_000);
  assert.equal(retryWaitMs(300, 1), MAX_RETRY_WAIT_MS);
  // A Retry-After of a week (a misconfigured proxy) must not stall the workspace's scan for a week.
  assert.equal(retryWaitMs(7 * 24 * 3600, 1), MAX_RETRY_WAIT_MS);
});

test('without Retry-After the wait doubles from about a second, jittered, and stops growing at a minute', () => {
  assert.equal(
    retryWaitMs(undefined, 1, () => 1),
    1000,
  );
  assert.equal(
    retryWaitMs(undefined, 1, () => 0),
    500,
  );
  assert.equal(
    retryWaitMs(undefined, 3, () => 1),
    4000,
  );
  assert.equal(
    retryWaitMs(undefined, 20, () => 1),
    60_000,
  );
});
