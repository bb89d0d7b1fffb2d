// What every phase of a reconciliation scan shares: where the scan is (persisted after each page, so any
// instance resumes it from there), its counts, the throttle on the provider's API, the stop signal, and waiting
// for the events it stored to be processed.
import { recoveredWaiting, saveScanProgress, type ScanRunRow } from '../../db/queries/scans.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { TokenBucket } from '../../lib/token-bucket.js';
import { raiseIncident } from '../incidents/raise-incident.js';
import type { Ctx } from '../context.js';

export type ScanProvider = 'stripe' | 'piano';

export interface ScanExample {
  action: 'recover' | 'repair' | 'tombstone' | 'fetch_customer';
  provider: ScanProvider;
  /** The provider's id of the event or object. */
  id: string;
  type?: string;
  /** The fields the CRM row had wrong (a repair). */
  fields?: string[];
}

/** Where a scan is; saved in check_runs.progress after every page. */
export interface ScanState {
  providers: ScanProvider[];
  /** Index in `providers` of the provider being scanned. */
  index: number;
  /** The phase of that provider ('start' before its first). */
  phase: string;
  /** The page cursor within the phase (Stripe's starting_after, Piano's offset, a CRM keyset). */
  cursor: string | null;
  /** Which group of event types the events phases are at (Stripe filters at most 20 types a request). */
  group: number;
  /** When the scan was asked for (ms, the providers' clock): the end of the events window. */
  startedAtMs: number;
  /** Start of the events window asked for (ms), or null for "since the last scan". */
  sinceMs: number | null;
  /** The events window of the provider being scanned (unix seconds), fixed when its scan starts; `floor` is the
   *  workspace's retention horizon then: no event created before it is recovered (see retentionFloorS). */
  window: { gte: number; lte: number; floor?: number } | null;
  /** Provider customer ids (Stripe customers, Piano uids) whose state the scan changed or found different. */
  touched: Record<string, string[]>;
  /** Provider ids of the events recovered, per provider (the first few hundred: evidence). */
  recovered: Record<string, string[]>;
  /** Piano: uids whose accesses must be compared (from the subscriptions that differ). */
  pending: string[];
  /** Dry run: what would change (the first few). */
  examples: ScanExample[];
  /** Providers whose scan failed, with why. */
  failures: { provider: ScanProvider; message: string }[];
}

export interface ScanCounts {
  apiRequests: number;
  rateLimited: number;
  throttledMs: number;
  pages: number;
  eventsListed: number;
  recoveredEvents: number;
  objectsListed: number;
  repaired: number;
  tombstones: number;
  customersFetched: number;
  /** Recovered or repair events not yet processed when the scan moved on (the worker is behind or stopped). */
  unprocessed: number;
}

export interface ScanProgress {
  runId: string;
  provider: ScanProvider | null;
  phase: string;
  counts: ScanCounts;
}

export const EMPTY_COUNTS: ScanCounts = {
  apiRequests: 0,
  rateLimited: 0,
  throttledMs: 0,
  pages: 0,
  eventsListed: 0,
  recoveredEvents: 0,
  objectsListed: 0,
  repaired: 0,
  tombstones: 0,
  customersFetched: 0,
  unprocessed: 0,
};

const MAX_EXAMPLES = 20;
const MAX_EVIDENCE = 200;
// Bounded so the progress row stays small; customers beyond it are still checked by the 'active' pass.
const MAX_TOUCHED = 20_000;
/** How long a scan waits for the events it stored to be processed before it compares the CRM. */
const PROCESSING_WAIT_MS = 60_000;

/** The scan was stopped in this process (shutdown, or a test killing it); its row is left for a takeover. */
/** The longest a scan waits before retrying one provider API call: a Retry-After beyond it (a misconfigured
 *  proxy, an hour-long ban) is cut to it, so the scan neither stalls for days nor gives up too soon. */
export const MAX_RETRY_WAIT_MS = 5 * 60_000;

/** How long to wait before attempt `attempt + 1` of a provider API call: the provider's Retry-After when it gave
 *  one (at most MAX_RETRY_WAIT_MS), else a backoff doubling from 1 s up to a minute, with jitter. */
export function retryWaitMs(retryAfterSeconds: number | undefined, attempt: number, random: () => number = Math.random): number {
  if (retryAfterSeconds !== undefined) return Math.min(MAX_RETRY_WAIT_MS, retryAfterSeconds * 1000);
  return Math.min(60_000, 500 * 2 ** attempt) * (0.5 + random() / 2);
}

export class ScanStopped extends Error {
  constructor() {
    super('scan stopped');
  }
}

/** Another instance took the run over (this one stopped beating for too long): stop without writing. */
export class ScanLost extends Error {
  constructor() {
    super('scan taken over by another instance');
  }
}

/** A provider cannot be scanned: no key, a refused key, answers that make no sense, or no answer at all. */
export class ProviderFailed extends Error {
  constructor(
    readonly provider: ScanProvider,
    message: string,
  ) {
    super(message);
  }
}

// One bucket per workspace and provider in this process: the provider's limit is per account, and one scan of a
// workspace runs at a time, so a scan resumed here continues with the same budget.
const buckets = new Map<string, TokenBucket>();

export class ScanJob {
  readonly dryRun: boolean;
  readonly workspaceId: string;
  bucket: TokenBucket = new TokenBucket({ rate: 0 });

  constructor(
    readonly ctx: Ctx,
    readonly run: ScanRunRow,
    readonly owner: string,
    readonly signal: AbortSignal,
    public state: ScanState,
    public counts: ScanCounts,
    private readonly onProgress?: (p: ScanProgress) => void,
  ) {
    this.dryRun = run.scope.dryRun === true;
    this.workspaceId = run.workspace_id;
  }

  get provider(): ScanProvider | null {
    return this.state.providers[this.state.index] ?? null;
  }

  throttle(provider: ScanProvider, rate: number): void {
    const key = `${this.workspaceId}:${provider}`;
    let bucket = buckets.get(key);
    if (!bucket || bucket.rate !== rate) buckets.set(key, (bucket = new TokenBucket({ rate })));
    this.bucket = bucket;
  }

  /** Waits for the throttle, counting the request and the time waited. */
  async beforeRequest(): Promise<void> {
    this.checkStopped();
    const waited = this.bucket.waitedMs;
    await this.bucket.take();
    this.counts.throttledMs += this.bucket.waitedMs - waited;
    this.counts.apiRequests += 1;
    this.checkStopped();
  }

  checkStopped(): void {
    if (this.signal.aborted) throw this.signal.reason instanceof ScanLost ? this.signal.reason : new ScanStopped();
  }

  /**
   * The workspace's retention horizon (unix seconds): events created before it are not recovered. Retention deletes
   * what is older than retentionDays; an event recovered from before that horizon would be deleted by the next
   * retention run, found missing by the next scan, stored and sent to the endpoints again, run after run (Stripe
   * lists undelivered events for 30 days, longer than a short retention). What such an event changed is still
   * repaired by the comparison of the objects.
   */
  async retentionFloorS(): Promise<number> {
    const ws = await findWorkspace(this.ctx.db, this.workspaceId);
    const days = ws?.retentionDays ?? this.ctx.config.retentionDays;
    return Math.floor((this.ctx.now() - days * 86_400_000) / 1000);
  }

  /** Persists where the scan is; throws ScanLost when the run is no longer this instance's. */
  async save(): Promise<void> {
    this.checkStopped();
    const ok = await saveScanProgress(
      this.ctx.db,
      this.run.id,
      this.owner,
      this.state as unknown as Record<string, unknown>,
      this.counts as unknown as Record<string, unknown>,
      new Date(this.ctx.now()),
    );
    if (!ok) throw new ScanLost();
    this.report();
  }

  report(): void {
    this.onProgress?.({ runId: this.run.id, provider: this.provider, phase: this.state.phase, counts: { ...this.counts } });
  }

  /** Moves to a phase, its cursor reset. */
  phase(name: string): void {
    this.state.phase = name;
    this.state.cursor = null;
    this.state.group = 0;
  }

  example(e: ScanExample): void {
    if (this.state.examples.length < MAX_EXAMPLES) this.state.examples.push(e);
  }

  touch(provider: ScanProvider, customerProviderId: string | null | undefined): void {
    if (!customerProviderId) return;
    const list = (this.state.touched[provider] ??= []);
    if (list.length < MAX_TOUCHED && !list.includes(customerProviderId)) list.push(customerProviderId);
  }

  recovered(provider: ScanProvider, providerEventId: string): void {
    this.counts.recoveredEvents += 1;
    const list = (this.state.recovered[provider] ??= []);
    if (list.length < MAX_EVIDENCE) list.push(providerEventId);
  }

  /**
   * The events a provider never delivered, found by this scan: one webhook_missed incident per provider (a
   * recurrence folds in). Nothing in a dry run.
   */
  async reportMissed(
    provider: ScanProvider,
    what: { title: (n: number) => string; expected: string; actual: (n: number) => string; rule: string },
  ): Promise<void> {
    const ids = this.state.recovered[provider] ?? [];
    if (this.dryRun || ids.length === 0) return;
    const n = ids.length;
    await this.ctx.db.transaction((tx) =>
      raiseIncident(this.ctx, tx, {
        workspaceId: this.workspaceId,
        kind: 'webhook_missed',
        provider,
        subject: this.workspaceId,
        title: what.title(n),
        details: { expected: what.expected, actual: what.actual(n), rule: what.rule },
        evidence: { runId: this.run.id, eventIds: ids },
      }),
    );
  }

  /**
   * Waits until the recovered events of the workspace are processed, so the comparison that follows reads a CRM
   * that has them (else it would make repair events for what they fix anyway). Bounded: a worker that is
   * stopped or far behind only makes the comparison see an older CRM, and the count says so.
   */
  async awaitProcessing(): Promise<void> {
    if (this.dryRun) return;
    const deadline = Date.now() + PROCESSING_WAIT_MS;
    for (;;) {
      this.checkStopped();
      const waiting = await recoveredWaiting(this.ctx.db, this.workspaceId);
      if (waiting === 0) return;
      if (Date.now() > deadline) {
        this.counts.unprocessed = waiting;
        this.ctx.log.warn({ runId: this.run.id, waiting }, 'scan: recovered events still unprocessed; comparing the CRM as it is');
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
