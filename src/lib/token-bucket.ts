// A token bucket for calls to a rate-limited API: `rate` tokens a second, at most `burst` saved up. take()
// resolves when a token is free; holdUntil() stops every taker until a time (a 429's Retry-After), so the calls
// queued behind the refused one wait too instead of hitting the limit again. Rate 0 means unthrottled.
// The clock and the sleep are injectable so the arithmetic is tested without waiting.

export interface TokenBucketOptions {
  /** Tokens per second; 0 = no limit. */
  rate: number;
  /** Most tokens saved up while idle; default one second's worth (at least 1). */
  burst?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class TokenBucket {
  readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private tokens: number;
  private last: number;
  private heldUntil = 0;
  /** Takers are served in order: each waits for the one before it. */
  private queue: Promise<void> = Promise.resolve();
  /** Milliseconds spent waiting for tokens or holds, in total (reported by the scan). */
  waitedMs = 0;

  constructor(o: TokenBucketOptions) {
    this.rate = Math.max(0, o.rate);
    this.burst = Math.max(1, o.burst ?? this.rate);
    this.now = o.now ?? Date.now;
    this.sleep = o.sleep ?? realSleep;
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Waits until a call may be made. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.takeNow());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** No call before `at` (ms since the epoch), whatever tokens are saved. */
  holdUntil(at: number): void {
    this.heldUntil = Math.max(this.heldUntil, at);
  }

  private refill(): void {
    const t = this.now();
    if (this.rate > 0) this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  private async takeNow(): Promise<void> {
    for (;;) {
      const hold = this.heldUntil - this.now();
      if (hold > 0) {
        this.waitedMs += hold;
        await this.sleep(hold);
        continue;
      }
      if (this.rate === 0) return;
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const wait = Math.ceil(((1 - this.tokens) / this.rate) * 1000);
      this.waitedMs += wait;
      await this.sleep(wait);
    }
  }
}
