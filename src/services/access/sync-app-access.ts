// POST …/access/sync — the team's app sends who has which keys, for many customers at once. Listed keys are
// granted (or their expiry changed); with `complete: true` the list is the whole truth for the workspace: every
// app-reported key it does not list is revoked, for the listed customers and for every other customer too.
// One transaction, batched statements; the same sync twice changes nothing and publishes nothing.
import { findWorkspace } from '../../db/queries/workspaces.js';
import { AppError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { applyAppAccess, failIfProblems, keyProblem, parseExpiry, resolveCustomers, type Problem } from './app-access-changes.js';

export const SYNC_MAX_CUSTOMERS = 10_000;
export const SYNC_MAX_KEYS = 100;

export interface SyncResult {
  customers: number;
  complete: boolean;
  granted: number;
  modified: number;
  revoked: number;
  unchanged: number;
}

export async function syncAppAccess(ctx: Ctx, input: { workspaceId: string; body: unknown }): Promise<SyncResult> {
  const body = asObject(input.body);
  const problems: Problem[] = [];
  const extra = Object.keys(body).filter((k) => k !== 'customers' && k !== 'complete');
  if (extra.length) problems.push({ path: extra[0]!, message: `unknown field ${extra.join(', ')} (the body is {customers, complete?})` });
  if (body.complete !== undefined && typeof body.complete !== 'boolean')
    problems.push({ path: 'complete', message: 'must be true or false' });
  if (!Array.isArray(body.customers)) {
    problems.push({ path: 'customers', message: 'must be a list of {id, keys}' });
    failIfProblems(problems);
  }
  const list = body.customers as unknown[];
  if (list.length > SYNC_MAX_CUSTOMERS) {
    throw new AppError(
      'SYNC_TOO_LARGE',
      `a sync lists at most ${SYNC_MAX_CUSTOMERS} customers (this one lists ${list.length}); nothing was changed. ` +
        'Send additive syncs in parts (without complete), and report single changes with PUT/DELETE …/customers/:id/access/:key',
      413,
      false,
      { limit: SYNC_MAX_CUSTOMERS, count: list.length },
    );
  }
  const now = ctx.now();
  const entries: { ref: string; keys: { key: string; expiresAt: Date | null }[] }[] = [];
  const firstAt = new Map<string, number>();
  list.forEach((raw, i) => {
    const at = `customers[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      return problems.push({ path: at, message: 'must be an object {id, keys}' });
    const c = raw as Record<string, unknown>;
    const unknownFields = Object.keys(c).filter((k) => k !== 'id' && k !== 'keys');
    if (unknownFields.length) problems.push({ path: at, message: `unknown field ${unknownFields.join(', ')} (an entry is {id, keys})` });
    const ref = c.id;
    if (typeof ref !== 'string' || ref.length === 0 || ref.length > 200)
      problems.push({ path: `${at}.id`, message: 'must be a customer id of 1–200 characters' });
    else if (firstAt.has(ref))
      problems.push({
        path: `${at}.id`,
        message: `repeats customers[${firstAt.get(ref)}] (${JSON.stringify(ref)}): list each customer once`,
      });
    else firstAt.set(ref, i);
    if (!Array.isArray(c.keys))
      return problems.push({ path: `${at}.keys`, message: 'must be a list of keys (strings, or {key, expiresAt})' });
    if (c.keys.length > SYNC_MAX_KEYS)
      return problems.push({ path: `${at}.keys`, message: `lists ${c.keys.length} keys; at most ${SYNC_MAX_KEYS} per customer` });
    const keys: { key: string; expiresAt: Date | null }[] = [];
    const seen = new Set<string>();
    c.keys.forEach((k: unknown, j: number) => {
      const kat = `${at}.keys[${j}]`;
      let key: unknown = k;
      let expiresAt: Date | null = null;
      if (typeof k === 'object' && k !== null && !Array.isArray(k)) {
        const o = k as Record<string, unknown>;
        const bad = Object.keys(o).filter((f) => f !== 'key' && f !== 'expiresAt');
        if (bad.length) problems.push({ path: kat, message: `unknown field ${bad.join(', ')} (a key is "key" or {key, expiresAt})` });
        key = o.key;
        const e = parseExpiry(o.expiresAt, now);
        if (!e.ok) problems.push({ path: `${kat}.expiresAt`, message: e.message });
        else expiresAt = e.value;
      }
      const bad = keyProblem(key);
      if (bad) return problems.push({ path: typeof k === 'object' ? `${kat}.key` : kat, message: bad });
      if (seen.has(key as string)) return problems.push({ path: kat, message: `repeats the key ${JSON.stringify(key)}` });
      seen.add(key as string);
      keys.push({ key: key as string, expiresAt });
    });
    if (typeof ref === 'string') entries.push({ ref, keys });
  });
  failIfProblems(problems);
  if (!(await findWorkspace(ctx.db, input.workspaceId))) throw new WorkspaceNotFoundError(input.workspaceId);
  const complete = body.complete === true;

  const outcome = await ctx.db.transaction(async (tx) => {
    const ids = await resolveCustomers(
      tx,
      input.workspaceId,
      entries.map((e) => e.ref),
    );
    // Two references to one customer (its Sluice id and its provider id) would make the result depend on order.
    const byCustomer = new Map<string, number>();
    const dup: Problem[] = [];
    entries.forEach((e) => {
      const id = ids.get(e.ref)!;
      const i = firstAt.get(e.ref)!;
      if (byCustomer.has(id))
        dup.push({
          path: `customers[${i}].id`,
          message: `names the same customer (${id}) as customers[${byCustomer.get(id)}]: list each customer once`,
        });
      else byCustomer.set(id, i);
    });
    failIfProblems(dup);
    return applyAppAccess(ctx, tx, input.workspaceId, {
      grant: entries.flatMap((e) => e.keys.map((k) => ({ customerId: ids.get(e.ref)!, key: k.key, expiresAt: k.expiresAt }))),
      revoke: [],
      complete,
      reason: 'not_listed',
    });
  });
  if (outcome.published > 0) ctx.onDeliveriesQueued();
  ctx.log.info(
    {
      workspaceId: input.workspaceId,
      customers: entries.length,
      complete,
      granted: outcome.granted,
      modified: outcome.modified,
      revoked: outcome.revoked,
    },
    'access sync',
  );
  return {
    customers: entries.length,
    complete,
    granted: outcome.granted,
    modified: outcome.modified,
    revoked: outcome.revoked,
    unchanged: outcome.unchanged,
  };
}
