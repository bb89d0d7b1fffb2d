// Single calls made in one turn of the event loop run as one batch; in serial mode the calls that arrive while a
// batch runs form the next one, and a failing batch fails exactly its own calls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesce } from './coalesce.js';

test('calls of one turn share a batch, each gets its own answer, batches are capped', async () => {
  const batches: number[][] = [];
  const double = coalesce<number, number>(
    async (xs) => {
      batches.push(xs);
      return xs.map((x) => x * 2);
    },
    { maxBatch: 3, serial: false },
  );
  assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map(double)), [2, 4, 6, 8, 10]);
  assert.deepEqual(batches, [
    [1, 2, 3],
    [4, 5],
  ]);
});

test('serial: what arrives while a batch runs waits and goes into the next; a failure fails only its batch', async () => {
  const batches: string[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const record = coalesce<string, string>(
    async (xs) => {
      batches.push(xs);
      if (batches.length === 1) await gate;
      if (xs.includes('bad')) throw new Error('batch failed');
      return xs.map((x) => x.toUpperCase());
    },
    { maxBatch: 10, serial: true },
  );
  const first = [record('a'), record('b')];
  await new Promise((r) => setImmediate(r));
  const second = [record('c'), record('bad'), record('d')];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(batches, [['a', 'b']], 'the second batch waits for the first');
  release();
  assert.deepEqual(await Promise.all(first), ['A', 'B']);
  const settled = await Promise.allSettled(second);
  assert.ok(settled.every((s) => s.status === 'rejected'));
  assert.deepEqual(batches, [
    ['a', 'b'],
    ['c', 'bad', 'd'],
  ]);
  assert.equal(await record('e'), 'E', 'still working after a failed batch');
});
