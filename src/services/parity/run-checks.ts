// Checks customers: loads their CRM state in chunks (a few batched queries per chunk), runs the pure check on
// each, settles their incidents (every finding raised, every live incident not found again resolved), writes
// their next boundary, and records the run. In `auto` repair mode it also grants or revokes in the CRM what the
// findings say is wrong, publishes access.granted / access.revoked once per change, and checks again so the
// incidents it opened resolve. Used by every trigger: the event checker, the boundary sweep, the API and CLI,
// and the reconciliation scan (which passes its own run).
import type { Queryable } from '../../db/port.js';
import { findCheckRun, insertCheckRun, insertFinishedCheckRun, updateCheckRun } from '../../db/queries/check-runs.js';
import { publishMessage } from '../../db/queries/messages.js';
import {
  customerIdsPage,
  endAccessRows,
  grantSluiceAccess,
  loadCustomerStates,
  limitLockWaits,
  releaseCheckLeases,
  setNextCheckAt,
  subjectsWithLiveIncidents,
  type RepairedAccess,
} from '../../db/queries/parity-state.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { checkCustomer, FINDING_KINDS, type CheckResult, type Finding, type FindingKind } from '../../parity/check.js';
import type { ParityPolicy } from '../../parity/policy.js';
import type { Ctx } from '../context.js';
import { settleSubject, type IncidentFact } from '../incidents/raise-incident.js';
import { CHECK_RUN_PREFIX } from './check-run-view.js';
import { loadPolicy } from './load-policy.js';

export type CheckTrigger = 'event' | 'schedule' | 'cron' | 'manual' | 'scan';
export const CHECK_TRIGGERS: readonly CheckTrigger[] = ['event', 'schedule', 'cron', 'manual', 'scan'];

export interface CheckSummary {
  runId: string;
  checked: number;
  /** The first MAX_FINDINGS findings (the incidents hold them all). */
  findings: Finding[];
  /** Findings by kind, all of them. */
  byKind: Partial<Record<FindingKind, number>>;
  opened: number;
  resolved: number;
  /** Access rows granted or ended by the `auto` repair mode. */
  repaired: number;
}

export interface CheckInput {
  workspaceId: string;
  customerIds: string[] | 'all' | 'active';
  trigger: CheckTrigger;
  /** Add to this run (a scan's, or a queued manual run) instead of recording a new one. */
  runId?: string;
  /** Set by the event checker: the lease it claimed the customers with, released when they are checked. */
  claimedUntil?: Date;
  /** Called after each chunk with the number of customers checked so far (the CLI's live count). */
  onProgress?: (checked: number) => void;
}

/** Customers per chunk: one set of state queries and one transaction each. */
const CHUNK = 500;
/** Findings kept with a run and returned in a summary. */
export const MAX_FINDINGS = 200;
/** Customer ids one call may list (a longer list is checked in parts, e.g. the customers a scan touched). */
export const MAX_LISTED_IDS = 10_000;
/** Who resolves an incident a clean check no longer finds. */
export const RESOLVED_BY_CHECK = 'parity-check';

const SEVERITY: Record<FindingKind, 'info' | 'warning' | 'critical'> = {
  access_missing: 'critical',
  access_unpaid: 'warning',
  access_expired: 'info',
  refunded_but_active: 'warning',
  duplicate_subscription: 'warning',
  entitlement_drift: 'warning',
  stuck_event: 'warning',
};

function title(f: Finding): string {
  const key = f.key ?? '';
  switch (f.kind) {
    case 'access_missing':
      return `Paid for ${key} but has no access`;
    case 'access_unpaid':
      return `Has access to ${key} that nothing pays for`;
    case 'access_expired':
      return `Access to ${key} is past its expiry but still active`;
    case 'refunded_but_active':
      return `Still has access to ${key} after a full refund`;
    case 'duplicate_subscription':
      return `Two subscriptions pay for ${key}`;
    case 'entitlement_drift':
      return `Stripe entitlement ${key} disagrees with the access policy`;
    case 'stuck_event':
      return 'Events of this customer failed or are stuck';
  }
}

function factOf(workspaceId: string, runId: string, f: Finding): IncidentFact {
  return {
    workspaceId,
    kind: f.kind,
    severity: SEVERITY[f.kind],
    provider: 'parity',
    subject: f.subject,
    title: title(f),
    details: { key: f.key ?? null, expected: f.expected, actual: f.actual, rule: f.rule },
    evidence: { ...f.evidence, customerId: f.subject, runId },
    ...(f.key ? { qualifier: f.key } : {}),
  };
}

function validate(input: CheckInput): void {
  if (!CHECK_TRIGGERS.includes(input.trigger))
    throw new ValidationError(`trigger must be one of ${CHECK_TRIGGERS.join(', ')}`, { field: 'trigger' });
  const ids = input.customerIds;
  if (ids !== 'all' && ids !== 'active') {
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id.length === 0 || id.length > 200))
      throw new ValidationError('customerIds must be "all", "active" or a list of customer ids', { field: 'customerIds' });
    if (ids.length > MAX_LISTED_IDS) throw new ValidationError(`at most ${MAX_LISTED_IDS} customer ids at once`, { field: 'customerIds' });
  }
}

interface Tally {
  checked: number;
  findings: Finding[];
  byKind: Partial<Record<FindingKind, number>>;
  opened: number;
  resolved: number;
  repaired: number;
}

function countsOf(t: Tally, base: Record<string, unknown> = {}): Record<string, unknown> {
  const prior = (k: string) => (typeof base[k] === 'number' ? (base[k] as number) : 0);
  const priorKinds = base.findings && typeof base.findings === 'object' ? (base.findings as Record<string, number>) : {};
  const findings: Record<string, number> = { ...priorKinds };
  for (const [k, n] of Object.entries(t.byKind)) findings[k] = (findings[k] ?? 0) + n;
  return {
    ...base,
    checked: prior('checked') + t.checked,
    findings,
    opened: prior('opened') + t.opened,
    resolved: prior('resolved') + t.resolved,
    repaired: prior('repaired') + t.repaired,
  };
}

const codeOf = (err: unknown) => String((err as { code?: unknown })?.code ?? '');
/** Deadlock, serialization failure, or a row lock not granted within CHECK_LOCK_TIMEOUT_MS. */
const isConflict = (err: unknown) => ['40P01', '40001', '55P03'].includes(codeOf(err));

/**
 * How long a check's writes wait for a customer row another transaction holds. A projection batch holds the rows
 * it wrote until it commits, and marks its customers due for a check near its end; a check run writes many of the
 * same rows in another order. The two can wait on each other, and PostgreSQL only breaks that after
 * deadlock_timeout (1 s by default), a second during which the batch stands still. The check gives way first: it
 * waits at most this long for a row, then rolls back and writes again once the batch is through.
 */
const CHECK_LOCK_TIMEOUT_MS = 100;
const ATTEMPTS = 5;

/** Runs fn in a transaction, again if it lost a lock conflict (two writers of one customer's rows in other orders). */
async function transactionRetried<T>(ctx: Ctx, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.db.transaction(async (tx) => {
        await limitLockWaits(tx, CHECK_LOCK_TIMEOUT_MS);
        return fn(tx);
      });
    } catch (err) {
      if (!isConflict(err) || attempt >= ATTEMPTS) throw err;
      // A holder that is still running needs a moment: a little longer after each try.
      if (codeOf(err) === '55P03') await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

interface Published {
  messages: number;
}

async function publishAccess(
  ctx: Ctx,
  tx: Queryable,
  workspaceId: string,
  type: 'access.granted' | 'access.revoked',
  row: RepairedAccess,
  out: Published,
): Promise<void> {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  const stored = await publishMessage(tx, {
    id: newId('msg', ctx.now()),
    workspaceId,
    type,
    data: {
      access: {
        id: row.id,
        customerId: row.customer_id,
        provider: row.provider,
        resource: row.resource,
        status: row.status,
        grantedAt: iso(row.granted_at),
        revokedAt: iso(row.revoked_at),
        expiresAt: iso(row.expires_at),
      },
      reason: 'parity_repair',
    },
    sourceProvider: 'sluice',
    sourceEventId: null,
    // One message per change: a row is granted or ended once per grant (its granted_at).
    dedupeKey: `${type}:parity_repair:${row.id}:${iso(row.granted_at) ?? ''}:${row.status}`,
    firstAttemptDelaySeconds: ctx.config.retrySchedule[0] ?? 0,
  });
  if (stored) out.messages++;
}

/** `auto` repair: what the findings say is wrong, set right in the CRM. The customers and rows changed. */
async function repair(
  ctx: Ctx,
  tx: Queryable,
  workspaceId: string,
  findings: Finding[],
  out: Published,
): Promise<{ customers: Set<string>; rows: number }> {
  const at = new Date(ctx.now());
  const repaired = new Set<string>();
  let rows = 0;
  const revoke = new Set<string>();
  const expire = new Set<string>();
  for (const f of findings) {
    if (f.kind === 'access_unpaid' || f.kind === 'refunded_but_active') for (const id of f.evidence.accessIds) revoke.add(id);
    if (f.kind === 'access_expired') for (const id of f.evidence.accessIds) expire.add(id);
  }
  for (const id of expire) revoke.delete(id);
  for (const row of await endAccessRows(tx, [...revoke].sort(), 'revoked', at)) {
    await publishAccess(ctx, tx, workspaceId, 'access.revoked', row, out);
    if (row.customer_id) repaired.add(row.customer_id);
    rows++;
  }
  for (const row of await endAccessRows(tx, [...expire].sort(), 'expired', at)) {
    await publishAccess(ctx, tx, workspaceId, 'access.revoked', row, out);
    if (row.customer_id) repaired.add(row.customer_id);
    rows++;
  }
  for (const f of findings) {
    if (f.kind !== 'access_missing' || !f.key) continue;
    const row = await grantSluiceAccess(tx, { id: newId('acc', ctx.now()), workspaceId, customerId: f.subject, key: f.key, at });
    if (!row) continue;
    await publishAccess(ctx, tx, workspaceId, 'access.granted', row, out);
    repaired.add(f.subject);
    rows++;
  }
  return { customers: repaired, rows };
}

async function checkChunk(ctx: Ctx, input: CheckInput, policy: ParityPolicy, runId: string, ids: string[], tally: Tally): Promise<void> {
  const { workspaceId } = input;
  const lookupKeys = policy.accessMap.some((e) => e.match.lookupKey !== undefined);
  const stuckBefore = new Date(ctx.now() - policy.stuckEventMinutes * 60_000);
  const states = await loadCustomerStates(ctx.db, workspaceId, ids, { lookupKeys, stuckBefore });
  const now = new Date(ctx.now());
  const results = new Map<string, CheckResult>();
  for (const [id, state] of states) results.set(id, checkCustomer(state, policy, now));
  // A customer with no finding and no live incident has nothing to settle: most of them, on most checks.
  const live = await subjectsWithLiveIncidents(ctx.db, workspaceId, [...results.keys()], FINDING_KINDS);
  const published: Published = { messages: 0 };
  const outcome = await transactionRetried(ctx, async (tx) => {
    published.messages = 0;
    let opened = 0;
    let resolved = 0;
    let repairedRows = 0;
    const settle = async (id: string, r: CheckResult) => {
      if (r.findings.length === 0 && !live.has(id)) return;
      const s = await settleSubject(ctx, tx, {
        workspaceId,
        subject: id,
        kinds: FINDING_KINDS,
        found: r.findings.map((f) => factOf(workspaceId, runId, f)),
        by: RESOLVED_BY_CHECK,
      });
      opened += s.opened.length;
      resolved += s.resolved.length;
      if (s.opened.length || s.resolved.length) published.messages++;
    };
    const final = new Map(results);
    for (const [id, r] of results) await settle(id, r);
    if (policy.repair === 'auto') {
      const findings = [...results.values()].flatMap((r) => r.findings);
      const repaired = await repair(ctx, tx, workspaceId, findings, published);
      repairedRows = repaired.rows;
      if (repaired.customers.size > 0) {
        // Check again what was repaired, so the incidents just opened for it resolve.
        const again = await loadCustomerStates(tx, workspaceId, [...repaired.customers], { lookupKeys, stuckBefore });
        for (const [id, state] of again) {
          const r = checkCustomer(state, policy, now);
          final.set(id, r);
          live.add(id);
          await settle(id, r);
        }
      }
    }
    await setNextCheckAt(tx, new Map([...final].map(([id, r]) => [id, r.nextCheckAt])));
    if (input.claimedUntil) await releaseCheckLeases(tx, ids, input.claimedUntil);
    return { opened, resolved, repairedRows };
  });
  if (published.messages > 0) ctx.onDeliveriesQueued();
  tally.checked += results.size;
  tally.opened += outcome.opened;
  tally.resolved += outcome.resolved;
  tally.repaired += outcome.repairedRows;
  for (const r of results.values()) {
    for (const f of r.findings) {
      tally.byKind[f.kind] = (tally.byKind[f.kind] ?? 0) + 1;
      if (tally.findings.length < MAX_FINDINGS) tally.findings.push(f);
    }
  }
}

function storedFinding(f: Finding) {
  return {
    kind: f.kind,
    subject: f.subject,
    key: f.key ?? null,
    expected: f.expected,
    actual: f.actual,
    rule: f.rule,
    evidence: f.evidence,
  };
}

/** Checks the customers and settles their incidents; see the header. Throws for a bad input or workspace. */
export async function checkCustomers(ctx: Ctx, input: CheckInput): Promise<CheckSummary> {
  validate(input);
  if (!(await findWorkspace(ctx.db, input.workspaceId))) throw new WorkspaceNotFoundError(input.workspaceId);
  const policy = await loadPolicy(ctx.db, input.workspaceId);
  const owner = `pid:${process.pid}`;
  const startedAt = new Date(ctx.now());
  const scope: Record<string, unknown> = Array.isArray(input.customerIds)
    ? input.customerIds.length === 1
      ? { customerId: input.customerIds[0] }
      : { customers: input.customerIds.length }
    : { customers: input.customerIds };

  // The run: the caller's (a scan's, or a queued manual one), one written at the end (event batches: one
  // statement per batch), or one recorded now and updated as chunks are checked (so a long run shows progress).
  let runId: string;
  let ownRun: 'given-check' | 'given-scan' | 'at-end' | 'live';
  let baseCounts: Record<string, unknown> = {};
  let baseFindings: unknown[] = [];
  if (input.runId) {
    const run = await findCheckRun(ctx.db, input.workspaceId, input.runId);
    if (!run) throw new NotFoundError('CHECK_RUN_NOT_FOUND', `no check run ${JSON.stringify(input.runId)} in this workspace`);
    runId = run.id;
    ownRun = run.kind === 'scan' ? 'given-scan' : 'given-check';
    baseCounts = run.counts ?? {};
    baseFindings = Array.isArray(run.findings) ? run.findings : [];
  } else if (input.trigger === 'event') {
    runId = newId(CHECK_RUN_PREFIX, ctx.now());
    ownRun = 'at-end';
  } else {
    runId = newId(CHECK_RUN_PREFIX, ctx.now());
    ownRun = 'live';
    await insertCheckRun(ctx.db, {
      id: runId,
      workspaceId: input.workspaceId,
      trigger: input.trigger,
      scope,
      status: 'running',
      owner,
      at: startedAt,
    });
  }

  const tally: Tally = { checked: 0, findings: [], byKind: {}, opened: 0, resolved: 0, repaired: 0 };
  const findingsToStore = () => [...baseFindings, ...tally.findings.map(storedFinding)].slice(0, MAX_FINDINGS);
  const progress = async (status?: 'running' | 'succeeded' | 'failed', error?: string) => {
    if (ownRun === 'at-end') return;
    // A scan owns its run's status; a check run given to us (queued by the API) is ours to finish.
    const s = ownRun === 'given-scan' ? undefined : (status ?? 'running');
    await updateCheckRun(ctx.db, runId, {
      counts: countsOf(tally, baseCounts),
      findings: findingsToStore(),
      at: new Date(ctx.now()),
      status: s,
      error,
    });
  };

  try {
    if (ownRun === 'given-check') await progress('running');
    if (Array.isArray(input.customerIds)) {
      const ids = [...new Set(input.customerIds)];
      for (let i = 0; i < ids.length; i += CHUNK) {
        await checkChunk(ctx, input, policy, runId, ids.slice(i, i + CHUNK), tally);
        input.onProgress?.(tally.checked);
        if (i + CHUNK < ids.length) await progress();
      }
    } else {
      let after = '';
      for (;;) {
        const ids = await customerIdsPage(ctx.db, input.workspaceId, input.customerIds, after, CHUNK, FINDING_KINDS);
        if (ids.length === 0) break;
        await checkChunk(ctx, input, policy, runId, ids, tally);
        input.onProgress?.(tally.checked);
        after = ids[ids.length - 1]!;
        await progress();
      }
    }
  } catch (err) {
    ctx.log.error({ err, runId, workspaceId: input.workspaceId }, 'parity check failed');
    const message = err instanceof ValidationError || err instanceof NotFoundError ? err.message : 'the check failed (see the log)';
    if (ownRun === 'at-end') {
      await insertFinishedCheckRun(ctx.db, {
        id: runId,
        workspaceId: input.workspaceId,
        trigger: input.trigger,
        scope,
        status: 'failed',
        counts: countsOf(tally),
        findings: findingsToStore(),
        error: message,
        owner,
        startedAt,
        finishedAt: new Date(ctx.now()),
      }).catch(() => undefined);
    } else await progress('failed', message).catch(() => undefined);
    throw err;
  }
  if (ownRun === 'at-end') {
    await insertFinishedCheckRun(ctx.db, {
      id: runId,
      workspaceId: input.workspaceId,
      trigger: input.trigger,
      scope,
      status: 'succeeded',
      counts: countsOf(tally),
      findings: findingsToStore(),
      error: null,
      owner,
      startedAt,
      finishedAt: new Date(ctx.now()),
    });
  } else await progress('succeeded');
  return {
    runId,
    checked: tally.checked,
    findings: tally.findings,
    byKind: tally.byKind,
    opened: tally.opened,
    resolved: tally.resolved,
    repaired: tally.repaired,
  };
}
