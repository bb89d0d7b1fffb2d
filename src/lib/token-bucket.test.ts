import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from './token-bucket.js';

function fakeClock() {
  let t = 1_000_000;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), at: () => t };
}

test('a bucket lets a burst through, then one call per 1/rate seconds', async () => {
  const c = fakeClock();
  const b = new TokenBucket({ rate: 10, now: c.now, sleep: c.sleep });
  const start = c.at();
  for (let i = 0; i < 10; i++) await b.take();
  assert.equal(c.at(), start, 'the saved-up second goes at once');
  for (let i = 0; i < 20; i++) await b.take();
  assert.equal(c.at() - start, 2000, '20 more calls at 10/s take 2 s');
});

test('a hold (Retry-After) stops every taker until it ends', async () => {
  const c = fakeClock();
  const b = new TokenBucket({ rate: 5, now: c.now, sleep: c.sleep });
  b.holdUntil(c.at() + 3000);
  const start = c.at();
  await b.take();
  assert.ok(c.at() - start >= 3000);
  assert.ok(b.waitedMs >= 3000);
});

test('rate 0 never waits, except for a hold', async () => {
  const c = fakeClock();
  const b = new TokenBucket({ rate: 0, now: c.now, sleep: c.sleep });
  const start = c.at();
  for (let i = 0; i < 1000; i++) await b.take();
  assert.equal(c.at(), start);
  b.holdUntil(start + 500);
  await b.take();
  assert.equal(c.at(), start + 500);
});

test('takers queue in order and none is lost when they come at once', async () => {
  const c = fakeClock();
  const b = new TokenBucket({ rate: 2, burst: 1, now: c.now, sleep: c.sleep });
  const order: number[] = [];
  await Promise.all([0, 1, 2, 3].map((i) => b.take().then(() => order.push(i))));
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.equal(c.at() - 1_000_000, 1500);
});
