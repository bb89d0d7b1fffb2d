// Runs retention in worker processes: a first run a little after start, then every
// SLUICE_RETENTION_INTERVAL_SECONDS. Every worker process schedules it; the lease inside runRetention lets
// one run at a time across all of them, and the others skip that round.
import type { Ctx } from '../services/context.js';
import { runRetention } from '../services/retention/run-retention.js';

export interface RetentionJob {
  /** Ends the run in progress at its next batch and stops scheduling. */
  stop(): Promise<void>;
}

export function startRetentionJob(ctx: Ctx): RetentionJob | undefined {
  const every = ctx.config.retentionIntervalSeconds * 1000;
  if (every === 0) return undefined;
  let stopping = false;
  let running: Promise<unknown> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    // Jitter spreads the instances' attempts, so the lease is rarely contended.
    timer = setTimeout(tick, ms + Math.random() * Math.min(ms, 60_000) * 0.2);
    timer.unref();
  };
  const tick = () => {
    running = runRetention(ctx, { shouldStop: () => stopping })
      .then((r) => {
        if (!r.ran) ctx.log.debug(r, 'retention skipped');
      })
      .catch((err: unknown) => ctx.log.error({ err }, 'retention run failed; trying again next interval'))
      .finally(() => {
        running = undefined;
        if (!stopping) schedule(every);
      });
  };
  schedule(Math.min(every, 60_000));
  return {
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await running;
    },
  };
}
