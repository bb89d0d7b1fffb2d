// Time and timers behind one small interface, so code that waits (the scheduler) can be driven by a test:
// a manual clock moves only when the test says so and fires the timers due on the way, awaiting each one, so
// a test never sleeps and never races the wall clock.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls fn once after ms; a returned promise is awaited by a manual clock before it moves on. */
  setTimer(fn: () => unknown, ms: number): Timer;
}

/** The real clock: Date.now (or the given now) and unref'd timeouts that never keep the process alive. */
export function systemClock(now: () => number = Date.now): Clock {
  return {
    now,
    setTimer(fn, ms) {
      const t = setTimeout(fn, Math.max(0, ms));
      t.unref();
      return { cancel: () => clearTimeout(t) };
    },
  };
}

interface Pending {
  due: number;
  seq: number;
  fn: () => unknown;
}

/** A clock for tests: time stands still until advance() or set() moves it. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<Pending>();

  constructor(start: number | Date) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }

  now = (): number => this.t;

  setTimer(fn: () => unknown, ms: number): Timer {
    const p: Pending = { due: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(p);
    return { cancel: () => this.timers.delete(p) };
  }

  /** Timers not yet fired. */
  pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by ms, firing (and awaiting) every timer that falls due on the way, in order — those
   *  set by a fired timer included. */
  async advance(ms: number): Promise<void> {
    await this.set(this.t + ms);
  }

  /** Moves time to `to` (never backwards), as advance() does. */
  async set(to: number | Date): Promise<void> {
    const target = typeof to === 'number' ? to : to.getTime();
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.timers) if (p.due <= target && (!next || p.due < next.due || (p.due === next.due && p.seq < next.seq))) next = p;
      if (!next) break;
      this.timers.delete(next);
      this.t = Math.max(this.t, next.due);
      await next.fn();
    }
    this.t = Math.max(this.t, target);
  }
}
