import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LockConflictError, retryOnLockConflict } from './retry-lock-conflict.js';

const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });

describe('retryOnLockConflict', () => {
  test('a run that loses a lock conflict runs again after a growing, jittered wait, and its result is returned', async () => {
    const waits: number[] = [];
    const retried: number[] = [];
    let runs = 0;
    const result = await retryOnLockConflict(
      async () => {
        runs += 1;
        if (runs < 3) throw deadlock();
        return 'done';
      },
      { attempts: 3, backoffMs: 50, what: 'the work', onRetry: (a) => retried.push(a), sleep: async (ms) => void waits.push(ms) },
    );
    assert.equal(result, 'done');
    assert.equal(runs, 3);
    assert.deepEqual(retried, [1, 2]);
    assert.equal(waits.length, 2);
    assert.ok(waits[0]! >= 50 && waits[0]! < 100, `first wait ${waits[0]}`);
    assert.ok(waits[1]! >= 100 && waits[1]! < 200, `second wait ${waits[1]}`);
  });

  test('every run lost: a 503 that says nothing changed and may be tried again, after exactly `attempts` runs', async () => {
    let runs = 0;
    const failed = await retryOnLockConflict(
      async () => {
        runs += 1;
        throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      },
      { attempts: 3, backoffMs: 1, what: 'the erasure', sleep: async () => undefined },
    ).catch((err: unknown) => err);
    assert.equal(runs, 3);
    assert.ok(failed instanceof LockConflictError);
    assert.equal(failed.status, 503);
    assert.equal(failed.code, 'BUSY');
    assert.equal(failed.retryable, true);
    assert.match(failed.message, /^the erasure met other work on the same rows 3 times in a row and changed nothing/);
  });

  test('any other error goes through at once, unretried', async () => {
    let runs = 0;
    const boom = new Error('relation does not exist');
    await assert.rejects(
      retryOnLockConflict(
        async () => {
          runs += 1;
          throw boom;
        },
        { attempts: 3, backoffMs: 1, what: 'x', sleep: async () => assert.fail('no wait') },
      ),
      (err) => err === boom,
    );
    assert.equal(runs, 1);
  });
});
