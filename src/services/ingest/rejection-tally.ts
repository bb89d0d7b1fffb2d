// Counts of rejected webhooks on their way to the database. A rejection is answered 400 at once; its count is added
// here and written in the background, the counts that arrive while a write is under way summed per counter and
// written together by the next one. Counting is diagnostics: a forged request must cost no more than a valid one,
// and a 400 held until its counter row was written held it behind every other write of that row (a flood of forged
// requests halved what 32 senders got through: bench/profile/mixed.ts).
import type { RejectionCount } from '../../db/queries/inbound-rejections.js';

export type RejectionKey = Omit<RejectionCount, 'count'>;

export class RejectionTally {
  /** Counts not yet handed to a write, by counter: bounded by the number of counters, whatever the flood. */
  private counts = new Map<string, RejectionCount>();
  private writing: Promise<void> | undefined;

  constructor(
    private readonly write: (counts: RejectionCount[]) => Promise<void>,
    private readonly lost: (err: unknown, counts: RejectionCount[]) => void,
  ) {}

  add(key: RejectionKey): void {
    const id = `${key.workspaceId}\u0000${key.provider}\u0000${key.reason}`;
    const c = this.counts.get(id);
    if (c) c.count += 1;
    else this.counts.set(id, { ...key, count: 1 });
    this.writing ??= this.drain();
  }

  /** Resolves once every count added so far has been written (or given up on): for a stop, and for tests. */
  settled(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    // The requests read in the same turn of the event loop join the first write.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.counts.size > 0) {
      const batch = [...this.counts.values()];
      this.counts = new Map();
      try {
        await this.write(batch);
      } catch (err) {
        this.lost(err, batch);
      }
    }
    this.writing = undefined;
  }
}
