// DELETE …/customers/:id/access/:key — the team's app says this customer no longer has this key. Idempotent:
// revoking a key that is not active (or was never granted) changes nothing and publishes nothing.
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { applyAppAccess, appAccessView, failIfProblems, keyProblem, resolveCustomers } from './app-access-changes.js';

export async function revokeAppAccess(ctx: Ctx, input: { workspaceId: string; customer: string; key: string }) {
  const bad = keyProblem(input.key);
  failIfProblems(bad ? [{ path: 'key', message: bad }] : []);
  if (!(await findWorkspace(ctx.db, input.workspaceId))) throw new WorkspaceNotFoundError(input.workspaceId);
  const outcome = await ctx.db.transaction(async (tx) => {
    const customerId = (await resolveCustomers(tx, input.workspaceId, [input.customer])).get(input.customer)!;
    const o = await applyAppAccess(ctx, tx, input.workspaceId, { grant: [], revoke: [{ customerId, key: input.key }], reason: 'revoked' });
    return { customerId, ...o };
  });
  if (outcome.published > 0) ctx.onDeliveriesQueued();
  return {
    access: appAccessView(outcome.rows.get(`${outcome.customerId}:${input.key}`), outcome.customerId, input.key),
    change: outcome.revoked ? ('revoked' as const) : ('unchanged' as const),
  };
}
