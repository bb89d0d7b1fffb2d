// When the queue runner claims in `each` mode, against an in-memory queue whose claims stop at a per-key limit,
// as the deliveries' claim stops at an endpoint's concurrency. The runner on the real tables is exercised by
// test/integration/queue.test.ts and the outbound tests.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { startQueueRunner, type QueueRunner, type QueueRunnerSpec } from './queue-runner.js';

interface Row {
  id: string;
}

/** `due` rows claimable while fewer than `cap` are held, like one endpoint at its concurrency. */
function cappedQueue(cap: number) {
  const due: Row[] = [];
  const held = new Set<string>();
  const finishers = new Map<string, () => void>();
  let claims = 0;
  return {
    due,
    held,
    finishers,
    get claims() {
      return claims;
    },
    add(n: number, prefix = 'r') {
      for (let i = 0; i < n; i++) due.push({ id: `${prefix}${due.length}_${i}` });
    },
    async claim(limit: number): Promise<Row[]> {
      claims += 1;
      const rows = due.splice(0, Math.max(0, Math.min(limit, cap - held.size)));
      for (const r of rows) held.add(r.id);
      return rows;
    },
    /** Works a row off when the test says so (or at once with `auto`). */
    run(auto: boolean) {
      return (row: Row) =>
        new Promise<void>((resolve) => {
          const done = () => {
            held.delete(row.id);
            finishers.delete(row.id);
            resolve();
          };
          if (auto) setImmediate(done);
          else finishers.set(row.id, done);
        });
    },
  };
}

function start(q: ReturnType<typeof cappedQueue>, auto: boolean, spec: Partial<QueueRunnerSpec<Row>> = {}): QueueRunner {
  return startQueueRunner<Row>({
    name: 'test',
    idPrefix: 'twk',
    lanes: 64,
    batchSize: 64,
    // No poll within a test: every claim below is one the runner chose to make on a wake-up.
    pollMs: 60_000,
    renewEveryMs: 60_000,
    log: pino({ level: 'silent' }),
    now: Date.now,
    claim: (_worker, limit) => q.claim(limit),
    renew: async () => undefined,
    release: async () => undefined,
    work: { mode: 'each', run: (_worker, row) => q.run(auto)(row) },
    releaseAtDeadline: true,
    ...spec,
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await sleep(5);
  assert.ok(check(), what);
}

describe('queue runner, each mode', () => {
  test('behind a per-key limit, a claim waits for a quarter of the work in flight to finish, not for each row', async () => {
    const q = cappedQueue(16);
    q.add(400);
    const runner = start(q, true);
    try {
      await until(() => q.due.length === 0 && q.held.size === 0, 'all 400 rows worked off');
      // One claim per finished row would be about 400; a quarter of the 16 in flight is 4 rows a claim.
      assert.ok(q.claims <= 400 / 3, `${q.claims} claims for 400 rows`);
    } finally {
      await runner.stop(1000);
    }
  });

  test('new work is claimed at once while the work in flight does not finish', async () => {
    const q = cappedQueue(16);
    q.add(8);
    const runner = start(q, false);
    try {
      await until(() => q.held.size === 8, 'the first 8 claimed');
      await sleep(50);
      const claims = q.claims;
      // One row finishing is less than a quarter of the 8 in flight: no claim for it.
      q.finishers.values().next().value!();
      await sleep(50);
      assert.equal(q.claims, claims, 'no claim for a single freed lane');
      // New work, announced: claimed without waiting for the others (the poll is a minute away).
      q.add(3, 'new');
      runner.wake();
      await until(() => q.held.size === 10, 'the new rows claimed');
      // A quarter of what is in flight finishing wakes the runner by itself.
      q.add(5, 'later');
      for (const finish of [...q.finishers.values()].slice(0, 2)) finish();
      await until(() => q.due.length === 0, 'the later rows claimed once two of the ten finished');
    } finally {
      for (const finish of [...q.finishers.values()]) finish();
      await runner.stop(1000);
    }
  });
});

describe('queue runner, each mode, work that frees its slot before it ends', () => {
  test('a freed slot lets the next claim in while the work is still being recorded; what is recorded is bounded', async () => {
    const q = cappedQueue(16);
    q.add(200);
    // Each row frees its slot at once (its request ended) and then waits, unfinished, until the test lets the
    // recording end: only freed() can move the runner on.
    const recording: Array<() => void> = [];
    const runner = start(q, false, {
      lanes: 32,
      batchSize: 32,
      work: {
        mode: 'each',
        run: (_worker, row, freed) =>
          new Promise<void>((resolve) => {
            setImmediate(() => {
              q.held.delete(row.id);
              freed();
              recording.push(resolve);
            });
          }),
      },
    });
    try {
      // Twice the lanes may wait for their recording (64 rows, four times what this queue lets one claim take);
      // the runner claims again once a quarter of a claim (8) is free.
      await until(() => recording.length >= 64 - 8, 'at least 56 rows freed while none finished');
      await sleep(50);
      const stalled = recording.length;
      assert.ok(stalled <= 64, `${stalled} rows held by work being recorded, more than twice the lanes`);
      await sleep(50);
      assert.equal(recording.length, stalled, 'no claim while the recording holds the lanes');
      assert.equal(runner.held(), stalled);
      // Recording ends: the runner claims the rest.
      while (q.due.length > 0 || recording.length > 0) {
        recording.shift()?.();
        await sleep(1);
      }
      await until(() => runner.held() === 0, 'every row finished');
    } finally {
      for (const finish of recording) finish();
      await runner.stop(1000);
    }
  });
});

describe('queue runner, batch mode', () => {
  test('a beforeClaim that answers 0 skips the claim: a second batch starts only when it lets one', async () => {
    const q = cappedQueue(1_000);
    q.add(40);
    let extraAllowed = false;
    const seen: number[] = [];
    const batches: Array<() => void> = [];
    let running = 0;
    let most = 0;
    const runner = start(q, false, {
      lanes: 2,
      batchSize: 10,
      beforeClaim: async (inFlight, limit) => {
        seen.push(inFlight);
        return inFlight === 0 || extraAllowed ? limit : 0;
      },
      work: {
        mode: 'batch',
        run: (_worker, rows) =>
          new Promise<void>((resolve) => {
            running += 1;
            most = Math.max(most, running);
            batches.push(() => {
              running -= 1;
              for (const r of rows) q.held.delete(r.id);
              resolve();
            });
          }),
      },
    });
    try {
      await until(() => running === 1, 'the first batch running');
      runner.wake();
      await sleep(50);
      assert.equal(most, 1, 'no second batch while beforeClaim says no');
      assert.equal(q.claims, 1, 'the refused claims were not made');
      assert.ok(seen.includes(1), 'beforeClaim was asked with one batch running');
      extraAllowed = true;
      runner.wake();
      await until(() => running === 2, 'a second batch beside the first once allowed');
      // Finishing both lets the rest through, two at a time.
      while (q.due.length > 0 || running > 0) {
        batches.shift()?.();
        await sleep(5);
      }
      assert.equal(q.held.size, 0);
      assert.equal(most, 2, 'never more batches than lanes');
    } finally {
      for (const finish of batches) finish();
      await runner.stop(1000);
    }
  });

  test('a beforeClaim that answers fewer rows than the batch size makes the claim that small', async () => {
    const q = cappedQueue(1_000);
    q.add(30);
    const sizes: number[] = [];
    const asked: number[] = [];
    const runner = start(q, false, {
      lanes: 1,
      batchSize: 10,
      claim: async (_worker, limit) => {
        const rows = await q.claim(limit);
        sizes.push(rows.length);
        return rows;
      },
      // Odd claims are cut to 3 rows (and a fraction is rounded down), even ones go through whole.
      beforeClaim: async (_running, limit) => {
        asked.push(limit);
        return asked.length % 2 === 1 ? 3.9 : limit;
      },
      work: {
        mode: 'batch',
        run: async (_worker, rows) => {
          for (const r of rows) q.held.delete(r.id);
        },
      },
    });
    try {
      await until(() => q.due.length === 0, 'every row claimed');
      assert.deepEqual(sizes.slice(0, 4), [3, 10, 3, 10]);
      assert.deepEqual(asked.slice(0, 4), [10, 10, 10, 10], 'asked with the full batch size every time');
    } finally {
      await runner.stop(1000);
    }
  });
});
