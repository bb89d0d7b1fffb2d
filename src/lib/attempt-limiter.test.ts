import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttemptLimiter } from './attempt-limiter.js';

test('a failure counted ahead and then forgiven leaves the budget as it was', () => {
  let now = 1_000;
  const limiter = new AttemptLimiter(2, 60_000, () => now);
  const first = limiter.fail('k');
  now += 1;
  assert.equal(limiter.retryAfterMs('k'), 0);
  const second = limiter.fail('k');
  assert.ok(limiter.retryAfterMs('k') > 0, 'two failures reach the limit of 2');
  limiter.forgive('k', second);
  assert.equal(limiter.retryAfterMs('k'), 0, 'the forgiven one no longer counts');
  limiter.forgive('k', first);
  limiter.forgive('k', first); // forgiving twice takes back nothing more
  limiter.fail('k');
  assert.equal(limiter.retryAfterMs('k'), 0);
});
