// Group commit for inbound events. A commit waits for the WAL to reach disk, so one commit per webhook caps
// ingest at the disk's flush rate and queues every sender behind it. Here the events verified while a commit is
// under way wait together and go in the next single INSERT: one commit for the lot, answered together.
//
// Rules: a request is answered only after the commit that holds its row (or that found its key already
// stored); a failed flush fails exactly its own requests and acknowledges none of them; two requests for the
// same event in one flush get one row, the first one is the new event and the others are duplicates.
import { StoreUnavailableError } from '../../errors.js';
import type { BatchedEvent } from '../../db/queries/event-inserts.js';

export interface EventBatcherOptions {
  /** Rows per INSERT at most. */
  maxRows: number;
  /** INSERTs under way at once, each on its own pooled connection. */
  maxInFlight: number;
  /** How long a row waits for companions when a flush is already running and a slot is free. */
  lingerMs: number;
}

/**
 * Requests waiting for their commit at or above which ingest is behind at that instant (see pressure). A group
 * commit takes a few milliseconds and answers every request waiting for it, so steady traffic has this many waiting
 * only now and then; senders pressing as fast as they are answered (a provider's backlog arriving at once) keep
 * about as many waiting as they have connections.
 */
export const BEHIND_BACKLOG = 8;

/** Time constant of pressure, in ms: about how far back it looks. */
export const PRESSURE_WINDOW_MS = 250;

export const DEFAULT_BATCHER: EventBatcherOptions = { maxRows: 128, maxInFlight: 3, lingerMs: 1 };

export interface BatcherIo {
  /** One multi-row insert; resolves to the ids inserted (absent: the key was already stored). */
  insert(rows: BatchedEvent[]): Promise<Set<string>>;
  /** The single-row path, for each row of a batch the database refused for its content: one bad row must not
   *  fail its neighbours. Resolves to false for a duplicate; counts and wakes the worker itself. */
  insertAlone(row: BatchedEvent): Promise<boolean>;
  /** Called once per flush that stored at least one row, with those rows. */
  stored(rows: BatchedEvent[]): void;
  /** Whether an error of the whole INSERT may be the doing of one row (its content, its workspace gone), so
   *  that each row is tried alone; otherwise the flush fails as a whole. */
  rowProblem(err: unknown): boolean;
  /** Called once per flush with its number of requests and whether it committed (metrics). */
  flushed?(requests: number, ok: boolean): void;
}

export interface BatcherStats {
  flushes: number;
  largestFlush: number;
  failedFlushes: number;
  failedRequests: number;
  /** Requests answered as duplicates of an earlier request of their own flush. */
  sameFlushRepeats: number;
}

interface Waiter {
  row: BatchedEvent;
  key: string;
  resolve(stored: boolean): void;
  reject(err: unknown): void;
}

function keyOf(row: BatchedEvent): string {
  return `${row.workspaceId}\u0000${row.provider}\u0000${row.providerEventId}`;
}

export class EventBatcher {
  private pending: Waiter[] = [];
  private inFlight = 0;
  private rowsInFlight = 0;
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** pressure() as of pressureAt, and whether the backlog has been at BEHIND_BACKLOG or more since then. */
  private pressureThen = 0;
  private pressureAt = performance.now();
  private behind = false;
  readonly stats: BatcherStats = { flushes: 0, largestFlush: 0, failedFlushes: 0, failedRequests: 0, sameFlushRepeats: 0 };

  constructor(
    private readonly io: BatcherIo,
    public options: EventBatcherOptions = DEFAULT_BATCHER,
  ) {}

  /** Requests waiting for a flush, and flushes under way. */
  get waiting(): number {
    return this.pending.length;
  }

  get flushing(): number {
    return this.inFlight;
  }

  /** Requests not yet answered: waiting for a flush or in one. */
  get backlog(): number {
    return this.pending.length + this.rowsInFlight;
  }

  /**
   * The share of the recent past during which BEHIND_BACKLOG or more requests were waiting for their commit, from 0
   * to 1, weighted towards the present (exponentially, time constant PRESSURE_WINDOW_MS). A backlog that comes and
   * goes with each commit of steady traffic weighs little; senders that keep the batcher full, whatever else the
   * process does, keep it near 1 (jobs/ingest-first.ts). On this repository's 2-core benchmark machine: 0.2-0.3 at
   * a steady 1,000 webhooks/s, 0.8-0.9 with 32 senders pressing as fast as they are answered.
   */
  pressure(now = performance.now()): number {
    const kept = Math.exp(-Math.max(0, now - this.pressureAt) / PRESSURE_WINDOW_MS);
    return this.pressureThen * kept + (this.behind ? 1 - kept : 0);
  }

  /** Called after every change of the backlog: the time since the last change is weighed with the state it had. */
  private backlogChanged(): void {
    const now = performance.now();
    this.pressureThen = this.pressure(now);
    this.pressureAt = now;
    this.behind = this.backlog >= BEHIND_BACKLOG;
  }

  /** Resolves true once the row is committed, false when its event was already stored (or is stored by an
   *  earlier request of the same flush); rejects when its flush failed, and then nothing of it was stored. */
  add(row: BatchedEvent): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ row, key: keyOf(row), resolve, reject });
      this.backlogChanged();
      this.schedule();
    });
  }

  private schedule(): void {
    // Full batches go at once, as many as there are free slots.
    while (this.pending.length >= this.options.maxRows && this.inFlight < this.options.maxInFlight) {
      this.cancelScheduled();
      this.flush();
    }
    // Nothing left, or no slot free: a finishing flush calls again.
    if (this.pending.length === 0 || this.inFlight >= this.options.maxInFlight || this.scheduled) return;
    // Nothing running: go as soon as the requests already read from the sockets have joined (same tick).
    // Something running: wait a little for more rows, since the next commit will queue behind it anyway.
    this.scheduled = this.inFlight === 0 ? setImmediate(() => this.fire()) : setTimeout(() => this.fire(), this.options.lingerMs);
  }

  private fire(): void {
    this.scheduled = undefined;
    if (this.pending.length > 0 && this.inFlight < this.options.maxInFlight) this.flush();
  }

  private cancelScheduled(): void {
    if (!this.scheduled) return;
    clearImmediate(this.scheduled as NodeJS.Immediate);
    clearTimeout(this.scheduled as NodeJS.Timeout);
    this.scheduled = undefined;
  }

  private flush(): void {
    const batch = this.pending.splice(0, this.options.maxRows);
    this.inFlight++;
    this.rowsInFlight += batch.length;
    void this.run(batch).finally(() => {
      this.inFlight--;
      this.rowsInFlight -= batch.length;
      this.backlogChanged();
      this.schedule();
    });
  }

  private async run(batch: Waiter[]): Promise<void> {
    this.stats.flushes++;
    this.stats.largestFlush = Math.max(this.stats.largestFlush, batch.length);
    const ok = await this.settle(batch);
    if (!ok) {
      this.stats.failedFlushes++;
      this.stats.failedRequests += batch.length;
    }
    this.io.flushed?.(batch.length, ok);
  }

  /** Inserts the flush and answers each of its requests; false when none of them could be stored. */
  private async settle(batch: Waiter[]): Promise<boolean> {
    const first = new Map<string, Waiter>();
    const repeats: Waiter[] = [];
    for (const w of batch) {
      if (first.has(w.key)) repeats.push(w);
      else first.set(w.key, w);
    }
    // Key order: concurrent flushes then take their unique-index locks in the same order (no deadlock).
    const unique = [...first.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const rows = unique.map((w) => w.row);
    let inserted: Set<string>;
    try {
      inserted = await this.io.insert(rows);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) && this.io.rowProblem(err)) {
        await this.oneByOne(unique, repeats);
        return true;
      }
      // Nothing of this flush was committed: every request in it is told so, and the provider retries.
      const failure = err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err);
      for (const w of batch) w.reject(failure);
      return false;
    }
    const stored = rows.filter((r) => inserted.has(r.id));
    for (const w of unique) w.resolve(inserted.has(w.row.id));
    for (const w of repeats) w.resolve(false);
    this.stats.sameFlushRepeats += repeats.length;
    if (stored.length > 0) this.io.stored(stored);
    return true;
  }

  /** The database refused the batch for the content of some row: each row alone, each with its own fate. */
  private async oneByOne(unique: Waiter[], repeats: Waiter[]): Promise<void> {
    const outcome = new Map<string, { ok: true } | { ok: false; err: unknown }>();
    for (const w of unique) {
      try {
        const isNew = await this.io.insertAlone(w.row);
        outcome.set(w.key, { ok: true });
        w.resolve(isNew);
      } catch (err) {
        outcome.set(w.key, { ok: false, err });
        w.reject(err);
      }
    }
    for (const w of repeats) {
      const o = outcome.get(w.key)!;
      if (o.ok) w.resolve(false);
      else w.reject(o.err);
    }
  }
}
