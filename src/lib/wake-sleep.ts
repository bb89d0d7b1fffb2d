// A sleep that a wake-up cuts short: worker loops wait for their next poll, or for a signal that work just
// arrived, whichever comes first. A wake-up that arrives while the loop is busy is remembered, so the next
// sleep returns at once instead of losing it.
export interface WakeSleep {
  sleep(ms: number): Promise<void>;
  wake(): void;
  /** The loop starts a round: wake-ups before this point are consumed. */
  clear(): void;
  /** Stops every sleep for good (shutdown). */
  stop(): void;
}

export function createWakeSleep(): WakeSleep {
  let pending = false;
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  return {
    sleep(ms) {
      return new Promise<void>((resolve) => {
        if (pending || stopped) {
          pending = false;
          resolve();
          return;
        }
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wakeUp = undefined;
          resolve();
        }
        wakeUp = done;
      });
    },
    wake() {
      pending = true;
      wakeUp?.();
    },
    clear() {
      pending = false;
    },
    stop() {
      stopped = true;
      wakeUp?.();
    },
  };
}
