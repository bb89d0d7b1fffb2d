// Reconciliation scans: ask each connected provider's API what the webhooks should have told us, store what never
// arrived, repair what the CRM has wrong, then check the customers touched and every customer with access
// (docs/scans.md). A scan is a check_runs row (kind 'scan'); one runs per workspace at a time. It runs in the
// background of the process that started it, saving its phase and cursor after every page and beating a
// heartbeat; a run whose heartbeat stops (a crash, a killed process) is taken over by resumeScans on any instance
// and continues from where it was saved.
import { impossibleDate } from '../../lib/calendar.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { findConnection } from '../../db/queries/connections.js';
import {
  beatScanRun,
  claimScanRun,
  customerIdsOf,
  findLiveScan,
  findScanRun,
  findScanState,
  finishScanRun,
  insertScanRun,
  releaseScanRun,
  saveScanState,
  staleScanRuns,
  type ScanRunRow,
} from '../../db/queries/scans.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import type { Queryable } from '../../db/port.js';
import { StoreUnavailableError, UnprocessableError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { dedupKeyOf, raiseIncident, resolveIncidentKey } from '../incidents/raise-incident.js';
import { checkCustomers, MAX_LISTED_IDS } from './run-checks.js';
import {
  EMPTY_COUNTS,
  ProviderFailed,
  ScanJob,
  ScanLost,
  ScanStopped,
  type ScanCounts,
  type ScanProgress,
  type ScanProvider,
  type ScanState,
} from './scan-job.js';
import { scanPiano } from './scan-piano.js';
import { scanStripe } from './scan-stripe.js';

export type { ScanProgress } from './scan-job.js';

export interface ScanRequest {
  workspaceId: string;
  provider?: 'stripe' | 'piano';
  since?: Date;
  dryRun?: boolean;
  startedBy: 'manual' | 'schedule' | 'cron';
}

function invalid(problems: { path: string; message: string }[]): UnprocessableError {
  return new UnprocessableError('VALIDATION_FAILED', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
    field: problems[0]?.path,
    problems,
  });
}

/** A runner that has not beaten for this long is taken for dead. */
export const SCAN_STALE_MS = 2 * 60_000;
const HEARTBEAT_MS = 20_000;
/** Stripe keeps events for 30 days: a scan cannot look further back. */
export const MAX_SINCE_MS = 30 * 86_400_000;

/** This process, as the owner of the scans it runs. */
const OWNER = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

/** Scans running in this process, so a shutdown (or a test) can stop them. */
const local = new Map<string, { controller: AbortController; done: Promise<void> }>();

const PROVIDERS: readonly ScanProvider[] = ['stripe', 'piano'];

/**
 * `since` as the API and the CLI take it: an ISO date/time, or a duration back from now (`90m`, `12h`, `7d`).
 * Returns the instant or a problem to show.
 */
export function parseScanSince(input: string, now: number): { ok: true; since: Date } | { ok: false; message: string } {
  const text = input.trim();
  const duration = /^(\d{1,6})\s*(m|h|d)$/i.exec(text);
  if (duration) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2]!.toLowerCase() as 'm' | 'h' | 'd'];
    return { ok: true, since: new Date(now - Number(duration[1]) * unit) };
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const impossible = impossibleDate(text);
    if (impossible) return { ok: false, message: `is not a date that exists: ${impossible}` };
    const at = Date.parse(text);
    if (!Number.isNaN(at)) return { ok: true, since: new Date(at) };
  }
  return {
    ok: false,
    message: `must be an ISO date (2026-05-01 or 2026-05-01T10:00:00Z) or a duration like 90m, 12h or 7d; got ${JSON.stringify(input.slice(0, 40))}`,
  };
}

function checkRequest(ctx: Ctx, req: ScanRequest): void {
  const problems: { path: string; message: string }[] = [];
  if (req.provider !== undefined && !PROVIDERS.includes(req.provider))
    problems.push({ path: 'provider', message: 'must be stripe or piano' });
  if (req.since !== undefined) {
    const at = req.since.getTime();
    if (Number.isNaN(at)) problems.push({ path: 'since', message: 'is not a valid time' });
    else if (at > ctx.now()) problems.push({ path: 'since', message: 'is in the future' });
    else if (at < ctx.now() - MAX_SINCE_MS)
      problems.push({ path: 'since', message: 'is more than 30 days ago: Stripe keeps events for 30 days' });
  }
  if (problems.length > 0) throw invalid(problems);
}

async function providersOf(ctx: Ctx, req: ScanRequest): Promise<ScanProvider[]> {
  // Asked for by name: scanned even when not connected, so the run fails loudly (scan_failed) instead of
  // doing nothing. Otherwise: every provider the workspace is connected to.
  if (req.provider) return [req.provider];
  const found: ScanProvider[] = [];
  for (const p of PROVIDERS) if (await findConnection(ctx.db, req.workspaceId, p)) found.push(p);
  return found;
}

function initialState(providers: ScanProvider[], req: ScanRequest): ScanState {
  return {
    providers,
    index: 0,
    phase: 'start',
    cursor: null,
    group: 0,
    // The providers' clock (compared with the times they put on events), not the injectable ctx.now.
    startedAtMs: Date.now(),
    sinceMs: req.since ? req.since.getTime() : null,
    window: null,
    touched: {},
    recovered: {},
    pending: [],
    examples: [],
    failures: [],
  };
}

/**
 * Creates the run (queued, owned by this process) unless the workspace has a live one, which is returned instead.
 * Does not run it: startScan runs it in the background, the CLI in the foreground.
 */
export async function createScan(ctx: Ctx, req: ScanRequest): Promise<{ runId: string; alreadyRunning: boolean }> {
  checkRequest(ctx, req);
  if (!(await findWorkspace(ctx.db, req.workspaceId))) throw new WorkspaceNotFoundError(req.workspaceId);
  const live = await findLiveScan(ctx.db, req.workspaceId);
  if (live) return { runId: live.id, alreadyRunning: true };
  const providers = await providersOf(ctx, req);
  const scope = {
    provider: req.provider ?? null,
    providers,
    since: req.since?.toISOString() ?? null,
    dryRun: req.dryRun === true,
    startedBy: req.startedBy,
  };
  const row = await insertScanRun(ctx.db, {
    id: newId('run', ctx.now()),
    workspaceId: req.workspaceId,
    scope,
    progress: initialState(providers, req) as unknown as Record<string, unknown>,
    owner: OWNER,
    at: new Date(ctx.now()),
  });
  if (row) return { runId: row.id, alreadyRunning: false };
  // Another instance started one between the look and the insert.
  const other = await findLiveScan(ctx.db, req.workspaceId);
  if (other) return { runId: other.id, alreadyRunning: true };
  return createScan(ctx, req);
}

/** Starts a scan in the background of this process; a scan already live for the workspace is returned instead
 *  (and taken over here if its runner is dead). */
export async function startScan(ctx: Ctx, req: ScanRequest): Promise<{ runId: string; alreadyRunning: boolean }> {
  const created = await createScan(ctx, req);
  if (!created.alreadyRunning || (await isStale(ctx, created.runId))) launch(ctx, created.runId);
  return created;
}

async function isStale(ctx: Ctx, runId: string): Promise<boolean> {
  const run = await findScanRun(ctx.db, runId);
  if (!run || (run.status !== 'queued' && run.status !== 'running')) return false;
  return run.owner === null || run.heartbeat_at === null || run.heartbeat_at.getTime() < ctx.now() - SCAN_STALE_MS;
}

/** Takes over the scans whose runner stopped beating, and resumes each from its saved progress. Every minute. */
export async function resumeScans(ctx: Ctx): Promise<number> {
  let resumed = 0;
  for (const id of await staleScanRuns(ctx.db, new Date(ctx.now() - SCAN_STALE_MS))) {
    if (local.has(id)) continue;
    // Claimed here, so two instances resuming at once cannot both run it: the loser's claim finds it fresh.
    const run = await claimScanRun(ctx.db, id, OWNER, new Date(ctx.now()), new Date(ctx.now() - SCAN_STALE_MS));
    if (!run) continue;
    ctx.log.info({ runId: id, workspaceId: run.workspace_id, phase: run.progress.phase }, 'scan: taking over a scan whose runner stopped');
    launch(ctx, id);
    resumed += 1;
  }
  return resumed;
}

/**
 * Runs the scan in the foreground until it ends (the CLI). When another live instance runs it, follows it instead:
 * `onProgress` is then fed from its saved progress.
 */
export async function runScanToEnd(ctx: Ctx, runId: string, onProgress?: (p: ScanProgress) => void): Promise<void> {
  for (;;) {
    const existing = local.get(runId);
    if (existing) return existing.done;
    const run = await findScanRun(ctx.db, runId);
    if (!run || (run.status !== 'queued' && run.status !== 'running')) return;
    const ours =
      run.owner === OWNER || run.owner === null || run.heartbeat_at === null || run.heartbeat_at.getTime() < ctx.now() - SCAN_STALE_MS;
    if (ours) {
      launch(ctx, runId, onProgress);
      return local.get(runId)?.done;
    }
    const state = run.progress as unknown as ScanState;
    onProgress?.({
      runId,
      provider: state.providers?.[state.index] ?? null,
      phase: state.phase,
      counts: { ...EMPTY_COUNTS, ...(run.counts as Partial<ScanCounts>) },
    });
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Stops the scans running in this process. `release` (a graceful shutdown) lets another instance take them over
 * at once; without it they wait for the stale heartbeat, as after a crash.
 */
export async function stopScans(ctx: Ctx, opts: { release?: boolean } = {}): Promise<void> {
  const runs = [...local.entries()];
  for (const [, r] of runs) r.controller.abort(new ScanStopped());
  await Promise.all(runs.map(([, r]) => r.done.catch(() => undefined)));
  if (opts.release) for (const [id] of runs) await releaseScanRun(ctx.db, id, OWNER).catch(() => undefined);
}

function launch(ctx: Ctx, runId: string, onProgress?: (p: ScanProgress) => void): void {
  if (local.has(runId)) return;
  const controller = new AbortController();
  const done = runScan(ctx, runId, controller, onProgress)
    .catch((err) => ctx.log.error({ err, runId }, 'scan: the run stopped on an unexpected error'))
    .finally(() => local.delete(runId));
  local.set(runId, { controller, done });
}

function restoreState(run: ScanRunRow): ScanState {
  const p = run.progress as Partial<ScanState>;
  const scope = run.scope as { providers?: ScanProvider[] };
  return {
    providers: p.providers ?? scope.providers ?? [],
    index: p.index ?? 0,
    phase: p.phase ?? 'start',
    cursor: p.cursor ?? null,
    group: p.group ?? 0,
    startedAtMs: p.startedAtMs ?? run.created_at.getTime(),
    sinceMs: p.sinceMs ?? null,
    window: p.window ?? null,
    touched: p.touched ?? {},
    recovered: p.recovered ?? {},
    pending: p.pending ?? [],
    examples: p.examples ?? [],
    failures: p.failures ?? [],
  };
}

async function runScan(ctx: Ctx, runId: string, controller: AbortController, onProgress?: (p: ScanProgress) => void): Promise<void> {
  const run = await claimScanRun(ctx.db, runId, OWNER, new Date(ctx.now()), new Date(ctx.now() - SCAN_STALE_MS));
  if (!run) return;
  const counts: ScanCounts = { ...EMPTY_COUNTS };
  for (const k of Object.keys(counts) as (keyof ScanCounts)[]) {
    const v = run.counts[k];
    if (typeof v === 'number') counts[k] = v;
  }
  const job = new ScanJob(ctx, run, OWNER, controller.signal, restoreState(run), counts, onProgress);
  const heartbeat = setInterval(() => {
    beatScanRun(ctx.db, runId, OWNER, new Date(ctx.now()))
      .then((mine) => {
        if (!mine) controller.abort(new ScanLost());
      })
      .catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    await scanProviders(job);
    const checksError = await runChecks(job);
    const { failures } = job.state;
    const errors = [
      ...failures.map((f) => `${f.provider}: ${f.message}`),
      ...(checksError ? [`checks after the scan: ${checksError}`] : []),
    ];
    job.state.phase = 'finished';
    await finishScanRun(ctx.db, runId, OWNER, {
      // The scan's own work decides its status; checks that fail after it are reported, and run again on their
      // own schedule.
      status: failures.length > 0 ? 'failed' : 'succeeded',
      error: errors.length > 0 ? errors.join('; ') : null,
      progress: job.state as unknown as Record<string, unknown>,
      counts: job.counts as unknown as Record<string, unknown>,
      at: new Date(ctx.now()),
    });
    job.report();
    ctx.log.info({ runId, workspaceId: run.workspace_id, ...job.counts, failures: failures.length }, 'scan finished');
  } catch (err) {
    if (err instanceof ScanStopped || err instanceof ScanLost) {
      ctx.log.info(
        { runId, phase: job.state.phase, reason: err.message },
        'scan: stopped in this process; its saved progress stays for a takeover',
      );
      return;
    }
    // The database is gone: nothing can be recorded; the stale heartbeat hands the run to whoever comes next.
    if (err instanceof StoreUnavailableError) throw err;
    ctx.log.error({ err, runId }, 'scan failed');
    await finishScanRun(ctx.db, runId, OWNER, {
      status: 'failed',
      error: `the scan stopped on an unexpected error: ${(err as Error).message ?? String(err)}`,
      progress: job.state as unknown as Record<string, unknown>,
      counts: job.counts as unknown as Record<string, unknown>,
      at: new Date(ctx.now()),
    });
  } finally {
    clearInterval(heartbeat);
  }
}

async function scanProviders(job: ScanJob): Promise<void> {
  const { ctx, state } = job;
  while (state.index < state.providers.length) {
    const provider = state.providers[state.index]!;
    try {
      if (provider === 'stripe') await scanStripe(job);
      else await scanPiano(job);
      if (!job.dryRun) await settleProvider(job, provider, undefined);
    } catch (err) {
      if (!(err instanceof ProviderFailed)) throw err;
      ctx.log.warn({ runId: job.run.id, provider, reason: err.message }, 'scan: the provider could not be scanned');
      state.failures.push({ provider, message: err.message });
      if (!job.dryRun) await settleProvider(job, provider, err.message);
    }
    state.index += 1;
    job.phase('start');
    state.window = null;
    await job.save();
  }
  state.phase = 'checks';
  await job.save();
}

/** A provider's scan ended: on success the next scan starts from here and scan_failed resolves; else it is raised. */
async function settleProvider(job: ScanJob, provider: ScanProvider, failed: string | undefined): Promise<void> {
  const { ctx } = job;
  const fact = { workspaceId: job.workspaceId, kind: 'scan_failed', provider, subject: job.workspaceId };
  await ctx.db.transaction(async (tx) => {
    if (failed) {
      await raiseIncident(ctx, tx, {
        ...fact,
        severity: 'critical',
        title: `The ${provider === 'stripe' ? 'Stripe' : 'Piano'} scan failed: ${failed}`,
        details: { expected: `a scan of ${provider}'s API`, actual: failed, rule: 'scan: the provider must answer the scan' },
        evidence: { runId: job.run.id },
      });
      return;
    }
    await saveScanState(tx, {
      workspaceId: job.workspaceId,
      provider,
      runId: job.run.id,
      completedAt: new Date(ctx.now()),
      eventsUntil: await coveredUntil(tx, job, provider),
    });
    await resolveIncidentKey(ctx, tx, job.workspaceId, dedupKeyOf(fact), 'scan');
  });
}

/**
 * Where the events this provider's scan looked at end, for the next scan to start from — only when its window
 * joins what earlier scans covered: it starts at or before where they stopped, or as far back as anything can be
 * listed (30 days, the retention). A scan asked for a short `since` after a gap leaves the gap to the next scan
 * (null: events_until stays where it was), instead of the next scan starting after it and never looking at it.
 */
async function coveredUntil(tx: Queryable, job: ScanJob, provider: ScanProvider): Promise<Date | null> {
  const window = job.state.window;
  if (!window) return null;
  const previous = (await findScanState(tx, job.workspaceId, provider))?.eventsUntil;
  const reachable = Math.max(window.lte - MAX_SINCE_MS / 1000, window.floor ?? 0);
  const joins = window.gte <= reachable || (previous != null && window.gte <= Math.floor(previous.getTime() / 1000));
  return joins ? new Date(window.lte * 1000) : null;
}

/** The check of every customer the scan touched, then of every customer with access; the error text if they failed. */
async function runChecks(job: ScanJob): Promise<string | undefined> {
  if (job.dryRun) return undefined;
  const { ctx } = job;
  const ids: string[] = [];
  for (const [provider, providerIds] of Object.entries(job.state.touched)) {
    ids.push(...(await customerIdsOf(ctx.db, job.workspaceId, provider, providerIds)));
  }
  try {
    // A first scan of a large account touches more customers than one call takes: in parts.
    for (let i = 0; i < ids.length; i += MAX_LISTED_IDS)
      await checkCustomers(ctx, {
        workspaceId: job.workspaceId,
        customerIds: ids.slice(i, i + MAX_LISTED_IDS),
        trigger: 'scan',
        runId: job.run.id,
      });
    await checkCustomers(ctx, { workspaceId: job.workspaceId, customerIds: 'active', trigger: 'scan', runId: job.run.id });
    return undefined;
  } catch (err) {
    ctx.log.warn({ err, runId: job.run.id }, 'scan: the checks after the scan failed');
    return (err as Error).message ?? String(err);
  }
}

/** A scan run as the API and the CLI show it. */
export function scanView(run: ScanRunRow) {
  const state = run.progress as Partial<ScanState>;
  return {
    id: run.id,
    workspaceId: run.workspace_id,
    status: run.status,
    scope: run.scope,
    provider: state.providers?.[state.index ?? 0] ?? null,
    phase: state.phase ?? null,
    counts: { ...EMPTY_COUNTS, ...(run.counts as Partial<ScanCounts>) },
    recoveredEventIds: state.recovered ?? {},
    examples: (state.examples ?? []) as unknown as Record<string, unknown>[],
    failures: (state.failures ?? []) as unknown as Record<string, unknown>[],
    error: run.error,
    createdAt: run.created_at.toISOString(),
    startedAt: run.started_at?.toISOString() ?? null,
    finishedAt: run.finished_at?.toISOString() ?? null,
  };
}

export async function getScan(ctx: Ctx, workspaceId: string, runId: string): Promise<ReturnType<typeof scanView> | undefined> {
  const run = await findScanRun(ctx.db, runId);
  return run && run.workspace_id === workspaceId ? scanView(run) : undefined;
}

/**
 * `POST …/scans` and `sluice scan`: the request as typed by a person (since as an ISO date or a duration), every
 * problem listed in one 422.
 */
export function parseScanRequest(
  ctx: Ctx,
  workspaceId: string,
  input: { provider?: unknown; since?: unknown; dryRun?: unknown },
  startedBy: ScanRequest['startedBy'],
): ScanRequest {
  const problems: { path: string; message: string }[] = [];
  let provider: ScanRequest['provider'];
  if (input.provider !== undefined && input.provider !== null) {
    if (input.provider === 'stripe' || input.provider === 'piano') provider = input.provider;
    else
      problems.push({ path: 'provider', message: `must be stripe or piano; got ${JSON.stringify(String(input.provider).slice(0, 40))}` });
  }
  let since: Date | undefined;
  if (input.since !== undefined && input.since !== null) {
    const parsed =
      typeof input.since === 'string' ? parseScanSince(input.since, ctx.now()) : { ok: false as const, message: 'must be a string' };
    if (parsed.ok) since = parsed.since;
    else problems.push({ path: 'since', message: parsed.message });
  }
  if (input.dryRun !== undefined && input.dryRun !== null && typeof input.dryRun !== 'boolean') {
    problems.push({ path: 'dryRun', message: 'must be true or false' });
  }
  if (problems.length > 0) throw invalid(problems);
  return { workspaceId, ...(provider ? { provider } : {}), ...(since ? { since } : {}), dryRun: input.dryRun === true, startedBy };
}

/** `POST …/scans`: parsed as a person typed it, then started in the background. */
export async function requestScan(
  ctx: Ctx,
  workspaceId: string,
  input: { provider?: unknown; since?: unknown; dryRun?: unknown },
  startedBy: ScanRequest['startedBy'],
): Promise<{ runId: string; alreadyRunning: boolean }> {
  return startScan(ctx, parseScanRequest(ctx, workspaceId, input, startedBy));
}
