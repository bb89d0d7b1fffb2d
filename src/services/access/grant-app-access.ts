// PUT …/customers/:id/access/:key — the team's app says this customer has this key (until expiresAt, if given).
// Idempotent: the same report again changes nothing and publishes nothing; a new expiry is access.modified.
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import {
  applyAppAccess,
  appAccessView,
  failIfProblems,
  keyProblem,
  parseExpiry,
  resolveCustomers,
  type Problem,
} from './app-access-changes.js';

export async function grantAppAccess(ctx: Ctx, input: { workspaceId: string; customer: string; key: string; body: unknown }) {
  const body = asObject(input.body);
  const problems: Problem[] = [];
  const extra = Object.keys(body).filter((k) => k !== 'expiresAt');
  if (extra.length) problems.push({ path: extra[0]!, message: `unknown field ${extra.join(', ')} (the body is {expiresAt?})` });
  const bad = keyProblem(input.key);
  if (bad) problems.push({ path: 'key', message: bad });
  const expiry = parseExpiry(body.expiresAt, ctx.now());
  if (!expiry.ok) problems.push({ path: 'expiresAt', message: expiry.message });
  failIfProblems(problems);
  if (!(await findWorkspace(ctx.db, input.workspaceId))) throw new WorkspaceNotFoundError(input.workspaceId);
  const outcome = await ctx.db.transaction(async (tx) => {
    const customerId = (await resolveCustomers(tx, input.workspaceId, [input.customer])).get(input.customer)!;
    const o = await applyAppAccess(ctx, tx, input.workspaceId, {
      grant: [{ customerId, key: input.key, expiresAt: expiry.ok ? expiry.value : null }],
      revoke: [],
    });
    return { customerId, ...o };
  });
  if (outcome.published > 0) ctx.onDeliveriesQueued();
  return {
    access: appAccessView(outcome.rows.get(`${outcome.customerId}:${input.key}`), outcome.customerId, input.key),
    change: outcome.granted ? ('granted' as const) : outcome.modified ? ('modified' as const) : ('unchanged' as const),
  };
}
