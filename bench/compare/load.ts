// The load generator: keep-alive node:http connections to 127.0.0.1, each sending one signed event after another
// (closed loop), or events offered at a fixed rate (open loop, for lag). Records acknowledged events per second,
// answer latency percentiles and every answer that was not 2xx. Bounded by a count and a deadline.
import http from 'node:http';
import type { SignedEvent } from './events.js';

export interface LoadResult {
  sent: number;
  acked: number;
  non2xx: number;
  /** Requests that got no HTTP answer at all (reset, refused, timeout). */
  failed: number;
  /** Answers other than 2xx by status ("none": no HTTP answer). */
  statuses: Record<string, number>;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  ackedIds: string[];
}

export const pct = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export class LoadClient {
  private agent: http.Agent;
  constructor(
    private url: string,
    readonly connections: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  post(e: SignedEvent): Promise<number> {
    return new Promise((resolve) => {
      const req = http.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': e.body.length, 'stripe-signature': e.signature },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end(e.body);
    });
  }

  /** Closed loop: `connections` senders, each posting the next event when its previous one was answered. */
  async closedLoop(events: SignedEvent[], deadlineMs: number): Promise<LoadResult> {
    const latencies: number[] = [];
    const ackedIds: string[] = [];
    let next = 0;
    let non2xx = 0;
    let failed = 0;
    const statuses: Record<string, number> = {};
    const start = performance.now();
    const stopAt = start + deadlineMs;
    await Promise.all(
      Array.from({ length: this.connections }, async () => {
        while (next < events.length && performance.now() < stopAt) {
          const e = events[next++]!;
          const t = performance.now();
          const status = await this.post(e);
          latencies.push(performance.now() - t);
          if (status >= 200 && status < 300) ackedIds.push(e.id);
          else {
            const key = status === 0 ? 'none' : String(status);
            statuses[key] = (statuses[key] ?? 0) + 1;
            if (status === 0) failed += 1;
            else non2xx += 1;
          }
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    return summarize(latencies, ackedIds, non2xx, failed, statuses, seconds);
  }

  /** Open loop: events offered at `rate`/s for `seconds`; an event whose turn comes while `maxInFlight` are still
   *  unanswered is skipped (counted in `sent` as not sent), so a slow system cannot make the phase run long. */
  async atRate(events: SignedEvent[], rate: number, seconds: number, maxInFlight = 512): Promise<LoadResult & { skipped: number }> {
    const latencies: number[] = [];
    const ackedIds: string[] = [];
    let non2xx = 0;
    let failed = 0;
    const statuses: Record<string, number> = {};
    let inFlight = 0;
    let skipped = 0;
    const pending: Promise<void>[] = [];
    const total = Math.min(events.length, Math.round(rate * seconds));
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      if (inFlight >= maxInFlight) {
        skipped += 1;
        continue;
      }
      const e = events[i]!;
      inFlight += 1;
      const t = performance.now();
      pending.push(
        this.post(e).then((status) => {
          inFlight -= 1;
          latencies.push(performance.now() - t);
          if (status >= 200 && status < 300) ackedIds.push(e.id);
          else {
            const key = status === 0 ? 'none' : String(status);
            statuses[key] = (statuses[key] ?? 0) + 1;
            if (status === 0) failed += 1;
            else non2xx += 1;
          }
        }),
      );
    }
    await Promise.all(pending);
    const elapsed = (performance.now() - start) / 1000;
    return { ...summarize(latencies, ackedIds, non2xx, failed, statuses, elapsed), skipped };
  }

  close() {
    this.agent.destroy();
  }
}

function summarize(
  latencies: number[],
  ackedIds: string[],
  non2xx: number,
  failed: number,
  statuses: Record<string, number>,
  seconds: number,
): LoadResult {
  latencies.sort((a, b) => a - b);
  return {
    sent: latencies.length,
    acked: ackedIds.length,
    non2xx,
    failed,
    statuses,
    seconds,
    perSecond: ackedIds.length / seconds,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    ackedIds,
  };
}
