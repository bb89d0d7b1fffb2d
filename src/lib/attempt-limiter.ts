// Failed attempts counted per key in a sliding window, in memory: enough to slow password guessing at one
// process (several instances each keep their own count, so the bound is per instance; documented).
export class AttemptLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until the key may try again; 0 when it may now. */
  retryAfterMs(key: string): number {
    const times = this.recent(key);
    return times.length < this.max ? 0 : times[0]! + this.windowMs - this.now();
  }

  /** Counts a failure now; returns its time, for `forgive` (an attempt counted before its outcome is known). */
  fail(key: string): number {
    const times = this.recent(key);
    const at = this.now();
    times.push(at);
    this.failures.set(key, times);
    // Keep memory bounded under a flood of distinct keys: forget the oldest keys first.
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
    return at;
  }

  /** Takes back one failure counted at `at` (the attempt turned out not to fail). */
  forgive(key: string, at: number): void {
    const times = this.failures.get(key);
    const i = times ? times.indexOf(at) : -1;
    if (i === -1) return;
    times!.splice(i, 1);
    if (times!.length === 0) this.failures.delete(key);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const times = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (times.length === 0) this.failures.delete(key);
    return times;
  }
}
