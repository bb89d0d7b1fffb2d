// Table locks a test holds from a transaction of its own, to keep the code under test waiting at a known point.
import type { Queryable } from '../../src/db/port.js';

/** Holds the events table locked (inserts wait) until release(); `locked` resolves once the lock is held. */
export function lockEvents(db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> }) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const done = db.transaction(async (tx) => {
    await tx.query('LOCK TABLE events IN EXCLUSIVE MODE');
    locked();
    await gate;
  });
  return { locked: isLocked, release: async () => (release(), await done) };
}
