// What the three access-report verbs share: the input rules (key, expiry), the customers they name, and the
// one routine that turns "these keys should be granted / revoked" into row changes, access.* messages (one per
// fact) and due checks, inside the caller's transaction. A report that changes nothing publishes nothing.
import { impossibleDate } from '../../lib/calendar.js';
import type { Queryable } from '../../db/port.js';
import {
  appAccessRows,
  lockAppAccess,
  resolveCustomerRefs,
  writeAppAccess,
  type AppAccessRow,
  type AppAccessWrite,
} from '../../db/queries/app-access.js';
import { markCheckDue } from '../../db/queries/customer-checks.js';
import { publishMessages } from '../../db/queries/messages.js';
import { UnprocessableError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { KEY_PATTERN, KEY_RULE } from '../../parity/policy.js';
import type { Ctx } from '../context.js';

export type Problem = { path: string; message: string };

/** At most this many problems are listed in one answer (a 10,000-customer sync can be wrong everywhere). */
const MAX_LISTED = 1000;

export function keyProblem(key: unknown): string | undefined {
  return typeof key === 'string' && KEY_PATTERN.test(key) ? undefined : KEY_RULE;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

/** An expiry: absent/null (none), or an ISO 8601 date-time with a zone, in the future. */
export function parseExpiry(raw: unknown, now: number): { ok: true; value: Date | null } | { ok: false; message: string } {
  if (raw === undefined || raw === null) return { ok: true, value: null };
  if (typeof raw !== 'string' || !ISO_TIME.test(raw))
    return { ok: false, message: 'must be an ISO 8601 date-time with a zone, such as 2030-01-31T00:00:00Z, or null for no expiry' };
  const impossible = impossibleDate(raw);
  if (impossible) return { ok: false, message: `is not a date that exists: ${impossible}` };
  const d = new Date(raw);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() > 9999) return { ok: false, message: `is not a valid time: ${JSON.stringify(raw)}` };
  if (d.getTime() <= now)
    return { ok: false, message: `is in the past (${d.toISOString()}); to end access now, revoke it (DELETE …/access/:key)` };
  return { ok: true, value: d };
}

export function failIfProblems(problems: Problem[]): void {
  if (problems.length === 0) return;
  const listed = problems.slice(0, MAX_LISTED);
  const more = problems.length - listed.length;
  throw new UnprocessableError(
    'VALIDATION_FAILED',
    listed
      .slice(0, 5)
      .map((p) => `${p.path}: ${p.message}`)
      .join('; ') +
      (problems.length > 5 ? ` (and ${problems.length - 5} more problems)` : '') +
      '; nothing was changed',
    { problems: listed, ...(more > 0 ? { more } : {}) },
  );
}

/**
 * The Sluice customer id of each reference; 422 UNKNOWN_CUSTOMER naming every reference that matches no
 * customer (nothing is applied for anyone).
 */
export async function resolveCustomers(db: Queryable, workspaceId: string, refs: readonly string[]): Promise<Map<string, string>> {
  const found = await resolveCustomerRefs(db, workspaceId, refs);
  const unknown = [...new Set(refs.filter((r) => !found.has(r)))];
  if (unknown.length > 0) {
    const listed = unknown.slice(0, MAX_LISTED);
    throw new UnprocessableError(
      'UNKNOWN_CUSTOMER',
      `no customer ${listed
        .slice(0, 5)
        .map((r) => JSON.stringify(r))
        .join(', ')}${unknown.length > 5 ? ` (and ${unknown.length - 5} more)` : ''} in this workspace: ` +
        "name customers by Sluice id (cus_…) or by the provider's customer id, once their first provider event has arrived; nothing was changed",
      { customers: listed, count: unknown.length },
    );
  }
  return found;
}

export interface AccessWant {
  customerId: string;
  key: string;
}

export interface AppAccessPlan {
  /** Keys that must be active, with their expiry (null: none). */
  grant: (AccessWant & { expiresAt: Date | null })[];
  /** Keys that must not be active. */
  revoke: AccessWant[];
  /** Revoke every active app key of the workspace that `grant` does not list (a complete sync). */
  complete?: boolean;
  /** Said in access.revoked's data.reason: 'revoked' (DELETE) or 'not_listed' (a complete sync). */
  reason?: string;
}

export interface AppAccessOutcome {
  granted: number;
  modified: number;
  revoked: number;
  unchanged: number;
  /** The row of each key named in the plan after the change (undefined: never granted). */
  rows: Map<string, AppAccessWrite | AppAccessRow>;
  published: number;
}

const providerIdOf = (w: AccessWant) => `${w.customerId}:${w.key}`;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

type Change = {
  type: 'access.granted' | 'access.modified' | 'access.revoked';
  row: AppAccessWrite;
  previous?: AppAccessRow;
  reason?: string;
};

/** Applies the plan inside the caller's transaction; the caller has validated it and resolved its customers. */
export async function applyAppAccess(ctx: Ctx, tx: Queryable, workspaceId: string, plan: AppAccessPlan): Promise<AppAccessOutcome> {
  const at = new Date(ctx.now());
  await lockAppAccess(tx, workspaceId);
  const named = [...plan.grant, ...plan.revoke].map(providerIdOf);
  const existing = new Map(
    (await appAccessRows(tx, workspaceId, { customerIds: [], providerIds: named, allActive: plan.complete === true })).map((r) => [
      r.providerId,
      r,
    ]),
  );
  const inserts: AppAccessWrite[] = [];
  const updates: AppAccessWrite[] = [];
  const changes: Change[] = [];
  const rows = new Map<string, AppAccessWrite | AppAccessRow>();
  let unchanged = 0;
  const change = (row: AppAccessWrite, c: Omit<Change, 'row'>, old: AppAccessRow | undefined) => {
    (old ? updates : inserts).push(row);
    changes.push({ ...c, row });
    rows.set(row.providerId, row);
  };

  for (const g of plan.grant) {
    const providerId = providerIdOf(g);
    const old = existing.get(providerId);
    if (!old || old.status !== 'active') {
      const row: AppAccessWrite = {
        id: old?.id ?? newId('acc', ctx.now()),
        customerId: g.customerId,
        providerId,
        key: g.key,
        status: 'active',
        grantedAt: at,
        revokedAt: null,
        expiresAt: g.expiresAt,
        version: old ? old.version + 1 : 0,
      };
      change(row, { type: 'access.granted' }, old);
    } else if (iso(old.expiresAt) !== iso(g.expiresAt) || old.customerId !== g.customerId) {
      const row: AppAccessWrite = { ...old, customerId: g.customerId, status: 'active', expiresAt: g.expiresAt, version: old.version + 1 };
      change(row, { type: 'access.modified', previous: old }, old);
    } else {
      unchanged += 1;
      rows.set(providerId, old);
    }
  }
  const revoke = (old: AppAccessRow, reason: string) => {
    const row: AppAccessWrite = { ...old, status: 'revoked', revokedAt: at, version: old.version + 1 };
    change(row, { type: 'access.revoked', reason }, old);
  };
  for (const r of plan.revoke) {
    const providerId = providerIdOf(r);
    const old = existing.get(providerId);
    if (old?.status === 'active') revoke(old, plan.reason ?? 'revoked');
    else {
      unchanged += 1;
      if (old) rows.set(providerId, old);
    }
  }
  if (plan.complete) {
    const listed = new Set(plan.grant.map(providerIdOf));
    for (const old of existing.values())
      if (old.status === 'active' && !listed.has(old.providerId)) revoke(old, plan.reason ?? 'not_listed');
  }

  await writeAppAccess(tx, workspaceId, inserts, updates, at);
  const published = await publishMessages(
    tx,
    workspaceId,
    changes.map((c) => ({
      id: newId('msg', ctx.now()),
      type: c.type,
      data: {
        access: {
          id: c.row.id,
          customerId: c.row.customerId,
          provider: 'app',
          source: 'app',
          resource: c.row.key,
          key: c.row.key,
          status: c.row.status,
          grantedAt: iso(c.row.grantedAt),
          revokedAt: iso(c.row.revokedAt),
          expiresAt: iso(c.row.expiresAt),
        },
        ...(c.previous && c.type === 'access.modified' ? { previous: { expiresAt: iso(c.previous.expiresAt) } } : {}),
        ...(c.reason ? { reason: c.reason } : {}),
      },
      sourceProvider: 'app',
      sourceEventId: null,
      // One message per fact: the row and the count of its changes.
      dedupeKey: `${c.type}:access:app:${c.row.id}:${c.row.version}`,
      firstAttemptDelaySeconds: ctx.config.retrySchedule[0] ?? 0,
    })),
  );
  const touched = [...new Set(changes.map((c) => c.row.customerId).filter((id): id is string => id !== null))];
  await markCheckDue(tx, touched, new Date(ctx.now() + ctx.config.checkDebounceMs));
  return {
    granted: changes.filter((c) => c.type === 'access.granted').length,
    modified: changes.filter((c) => c.type === 'access.modified').length,
    revoked: changes.filter((c) => c.type === 'access.revoked').length,
    unchanged,
    rows,
    published,
  };
}

/** An access row as the access-report routes answer it. */
export function appAccessView(row: AppAccessWrite | AppAccessRow | undefined, customerId: string, key: string) {
  return {
    id: row?.id ?? null,
    customerId,
    key,
    source: 'app' as const,
    status: row?.status ?? 'none',
    grantedAt: iso(row?.grantedAt ?? null),
    revokedAt: iso(row?.revokedAt ?? null),
    expiresAt: iso(row?.expiresAt ?? null),
  };
}
