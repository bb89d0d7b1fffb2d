// The overview's time axis: which buckets a range shows, which of its hours come from the hourly rollups (whole
// hours that ended a while ago) and which part is computed live, and the series assembled from both. Pure
// functions: no database, no clock (the caller passes "now").

export type Range = 'hour' | 'day' | 'week';
export const RANGES: readonly Range[] = ['hour', 'day', 'week'];

const SPEC: Record<Range, { bucketSeconds: number; buckets: number }> = {
  hour: { bucketSeconds: 60, buckets: 60 },
  day: { bucketSeconds: 3600, buckets: 24 },
  week: { bucketSeconds: 3600, buckets: 168 },
};

/** An hour is rolled up only once it ended this long ago, so events received near its end have been processed
 *  (their lag counted) before the hour is frozen. */
export const ROLLUP_GRACE_SECONDS = 10 * 60;

export function parseRange(raw: unknown): Range {
  return typeof raw === 'string' && (RANGES as readonly string[]).includes(raw) ? (raw as Range) : 'hour';
}

export interface RangePlan {
  range: Range;
  bucketSeconds: number;
  /** Unix seconds of each bucket's start, oldest first; the last bucket holds "now". */
  starts: number[];
  /** Hours (unix seconds of their start) read from the rollups: whole, and ended at least the grace ago. */
  rolledHours: number[];
  /** The part computed live from the events: [liveFrom, liveTo) in unix seconds. */
  liveFrom: number;
  liveTo: number;
}

export function planRange(range: Range, nowMs: number): RangePlan {
  const { bucketSeconds, buckets } = SPEC[range];
  const now = Math.floor(nowMs / 1000);
  const current = Math.floor(now / bucketSeconds) * bucketSeconds;
  const starts = Array.from({ length: buckets }, (_, i) => current - (buckets - 1 - i) * bucketSeconds);
  const rolledHours = bucketSeconds === 3600 ? starts.filter((h) => h + 3600 <= now - ROLLUP_GRACE_SECONDS) : [];
  const liveFrom = rolledHours.length > 0 ? rolledHours[rolledHours.length - 1]! + 3600 : starts[0]!;
  return { range, bucketSeconds, starts, rolledHours, liveFrom, liveTo: now + 1 };
}

/** The rolled hours not computed yet, as runs of consecutive hours [from, to) in unix seconds. */
export function missingRuns(hours: number[], done: ReadonlySet<number>): { from: number; to: number }[] {
  const runs: { from: number; to: number }[] = [];
  for (const h of hours) {
    if (done.has(h)) continue;
    const last = runs[runs.length - 1];
    if (last && last.to === h) last.to = h + 3600;
    else runs.push({ from: h, to: h + 3600 });
  }
  return runs;
}

export interface LiveEventRow {
  t: number;
  provider: string;
  received: number;
  processed: number;
  lagSeconds: number;
}

export interface LiveAttemptRow {
  t: number;
  attempts: number;
  succeeded: number;
}

export interface StoredRollup {
  hour: number;
  metric: string;
  n: number;
  total: number;
}

export interface OverviewSeries {
  starts: number[];
  providers: string[];
  /** Events received per bucket, one list per provider (same order as `providers`). */
  received: number[][];
  /** Mean seconds from receipt to processing of the bucket's processed events; null without any. */
  lagSeconds: (number | null)[];
  /** Share of the bucket's delivery attempts that succeeded, in percent; null without attempts. */
  successPercent: (number | null)[];
  totals: {
    received: number;
    byProvider: Record<string, number>;
    processed: number;
    meanLagSeconds: number | null;
    attempts: number;
    succeeded: number;
  };
}

const PROVIDER_ORDER = ['stripe', 'piano'];

/** The bucket a time falls in; times just outside the range (an id made a moment before its receipt time)
 *  are clamped to the first or last bucket. */
export function bucketIndex(plan: Pick<RangePlan, 'starts' | 'bucketSeconds'>, t: number): number {
  const i = Math.floor((t - plan.starts[0]!) / plan.bucketSeconds);
  return Math.min(plan.starts.length - 1, Math.max(0, i));
}

/** Live rows (buckets of the live span) and stored hourly rollups into one series per chart. */
export function assembleSeries(
  plan: RangePlan,
  live: { events: LiveEventRow[]; attempts: LiveAttemptRow[] },
  rollups: StoredRollup[],
): OverviewSeries {
  const n = plan.starts.length;
  const received = new Map<string, number[]>();
  const row = (provider: string) => {
    let r = received.get(provider);
    if (!r) received.set(provider, (r = new Array<number>(n).fill(0)));
    return r;
  };
  const processed = new Array<number>(n).fill(0);
  const lag = new Array<number>(n).fill(0);
  const attempts = new Array<number>(n).fill(0);
  const succeeded = new Array<number>(n).fill(0);
  for (const e of live.events) {
    const i = bucketIndex(plan, e.t);
    row(e.provider)[i]! += e.received;
    processed[i]! += e.processed;
    lag[i]! += e.lagSeconds;
  }
  for (const a of live.attempts) {
    const i = bucketIndex(plan, a.t);
    attempts[i]! += a.attempts;
    succeeded[i]! += a.succeeded;
  }
  for (const r of rollups) {
    const i = bucketIndex(plan, r.hour);
    const [kind, provider] = r.metric.split(':');
    if (kind === 'received' && provider) row(provider)[i]! += r.n;
    else if (kind === 'lag') {
      processed[i]! += r.n;
      lag[i]! += r.total;
    } else if (kind === 'attempts') {
      attempts[i]! += r.n;
      succeeded[i]! += r.total;
    }
  }
  for (const p of PROVIDER_ORDER) row(p);
  const providers = [...received.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const byProvider = Object.fromEntries(providers.map((p) => [p, sum(received.get(p)!)]));
  const totalProcessed = sum(processed);
  const totalAttempts = sum(attempts);
  return {
    starts: plan.starts,
    providers,
    received: providers.map((p) => received.get(p)!),
    lagSeconds: processed.map((c, i) => (c > 0 ? round(lag[i]! / c, 3) : null)),
    successPercent: attempts.map((c, i) => (c > 0 ? round((100 * succeeded[i]!) / c, 1) : null)),
    totals: {
      received: sum(Object.values(byProvider)),
      byProvider,
      processed: totalProcessed,
      meanLagSeconds: totalProcessed > 0 ? round(sum(lag) / totalProcessed, 3) : null,
      attempts: totalAttempts,
      succeeded: sum(succeeded),
    },
  };
}

function rank(provider: string): number {
  const i = PROVIDER_ORDER.indexOf(provider);
  return i === -1 ? PROVIDER_ORDER.length : i;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
