// The event-triggered checker: customers whose projection changed are marked due (check_due_at, debounced by
// SLUICE_CHECK_DEBOUNCE_MS so a burst of events is checked once); this loop claims the due ones (FOR UPDATE SKIP
// LOCKED, with a lease: two instances never check one customer at once, and a checker that dies leaves a lease
// that expires) and checks them with trigger `event`, one run per workspace per claimed batch. It polls about
// once a second and is woken when a processed batch marked customers, at the time their check falls due.
import type { Ctx } from '../services/context.js';
import { claimCustomersDue } from '../services/parity/claim-due-checks.js';
import { checkCustomers } from '../services/parity/run-checks.js';
import { createWakeSleep } from '../lib/wake-sleep.js';

export interface ParityChecker {
  /** Look for due customers now, or at `atMs` (ms since the epoch) when that is later. */
  wake(atMs?: number): void;
  stop(): Promise<void>;
}

const POLL_MS = 1_000;
const BATCH = 500;
/** How long a claim holds a customer; a check of one batch takes well under a second. */
const LEASE_MS = 60_000;

export function startParityChecker(ctx: Ctx, opts: { pollMs?: number } = {}): ParityChecker {
  const pollMs = opts.pollMs ?? Math.min(POLL_MS, ctx.config.workerPollMs * 4);
  const waker = createWakeSleep();
  // One timer for the earliest wake-up asked for: a busy stream of batches asks many times for about the same time.
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let running = true;

  const loop = (async () => {
    while (running) {
      waker.clear();
      let claimed = 0;
      try {
        const leaseUntil = new Date(ctx.now() + LEASE_MS);
        const due = await claimCustomersDue(ctx, { leaseUntil, limit: BATCH });
        for (const [workspaceId, customerIds] of due) {
          claimed += customerIds.length;
          try {
            await checkCustomers(ctx, { workspaceId, customerIds, trigger: 'event', claimedUntil: leaseUntil });
          } catch (err) {
            // Their leases expire and they are claimed again; the run records the failure.
            ctx.log.warn({ err, workspaceId, customers: customerIds.length }, 'event-triggered parity check failed');
          }
        }
      } catch (err) {
        ctx.log.warn({ err }, 'could not claim customers due for a parity check');
      }
      // A full batch: more may be due at once.
      if (claimed < BATCH && running) await waker.sleep(pollMs);
    }
  })();

  return {
    wake(atMs) {
      const delay = atMs === undefined ? 0 : Math.max(0, atMs - ctx.now());
      if (delay === 0) return waker.wake();
      const at = Date.now() + delay;
      if (timer && timerAt <= at) return;
      clearTimeout(timer);
      timerAt = at;
      timer = setTimeout(() => {
        timer = undefined;
        timerAt = Infinity;
        waker.wake();
      }, delay + 5);
      timer.unref();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      waker.stop();
      await loop;
    },
  };
}
