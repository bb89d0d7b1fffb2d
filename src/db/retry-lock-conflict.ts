// Work that takes row locks in an order another transaction may cross (an erasure, which touches many tables that
// retention, projection and the sender lock too) can be chosen as a deadlock victim. Its transaction is rolled
// back whole, so running it again is safe; running it again at once mostly meets the same transaction still
// holding its locks, so each retry first waits a little, for a random time that grows with the attempt (two
// victims of one another do not come back in step).
import { AppError } from '../errors.js';
import { isLockConflict } from './store-errors.js';

export interface LockConflictRetry {
  /** Runs in all, the first included. */
  attempts: number;
  /** The wait before the second run is between this and twice this (ms); it doubles with each retry. */
  backoffMs: number;
  /** What the work is, for the error once every run met a conflict ("the erasure"). */
  what: string;
  /** Told of each conflict that is retried. */
  onRetry?(attempt: number, err: unknown): void;
  /** For tests: how to wait. */
  sleep?(ms: number): Promise<void>;
}

/** Thrown when every run met a lock conflict: nothing of the work was committed, and a later try may succeed. */
export class LockConflictError extends AppError {
  constructor(what: string, attempts: number) {
    super(
      'BUSY',
      `${what} met other work on the same rows ${attempts} times in a row and changed nothing; try again in a few seconds`,
      503,
      true,
    );
  }
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function retryOnLockConflict<T>(run: () => Promise<T>, o: LockConflictRetry): Promise<T> {
  const sleep = o.sleep ?? wait;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (!isLockConflict(err)) throw err;
      if (attempt >= o.attempts) throw new LockConflictError(o.what, attempt);
      o.onRetry?.(attempt, err);
      const base = o.backoffMs * 2 ** (attempt - 1);
      await sleep(base + Math.random() * base);
    }
  }
}
