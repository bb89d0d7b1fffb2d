// POST …/checks: check one customer or every customer with access, a live subscription or a live incident, now.
// With a customer and `wait`, the answer carries the findings; otherwise the run is queued and runs in this
// process in the background (GET …/check-runs/:id shows how it went; a run whose process died is marked failed
// by the next boundary sweep).
import { insertCheckRun } from '../../db/queries/check-runs.js';
import { findCustomerRef } from '../../db/queries/parity-state.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { CHECK_RUN_PREFIX, findingView, type FindingView } from './check-run-view.js';
import { checkCustomers } from './run-checks.js';

export interface CheckRequest {
  workspaceId: string;
  /** A Sluice customer id or a provider's customer id. */
  customerId?: string;
  wait?: boolean;
}

export type CheckRequestAnswer = { runId: string; queued: true } | { runId: string; queued: false; findings: FindingView[] };

export async function requestCheck(ctx: Ctx, req: CheckRequest): Promise<CheckRequestAnswer> {
  if (req.customerId !== undefined && (typeof req.customerId !== 'string' || req.customerId.trim() === '' || req.customerId.length > 200))
    throw new ValidationError('customerId must be a customer id of 1–200 characters', { field: 'customerId' });
  if (req.wait && req.customerId === undefined)
    throw new ValidationError('wait=true needs a customerId (a check of every customer runs in the background)', { field: 'wait' });
  if (!(await findWorkspace(ctx.db, req.workspaceId))) throw new WorkspaceNotFoundError(req.workspaceId);
  let customerIds: string[] | 'active' = 'active';
  if (req.customerId !== undefined) {
    const customer = await findCustomerRef(ctx.db, req.workspaceId, req.customerId.trim());
    if (!customer) throw new NotFoundError('CUSTOMER_NOT_FOUND', `no customer ${JSON.stringify(req.customerId)} in this workspace`);
    customerIds = [customer.id];
  }
  if (req.wait) {
    const s = await checkCustomers(ctx, { workspaceId: req.workspaceId, customerIds, trigger: 'manual' });
    return { runId: s.runId, queued: false, findings: s.findings.map(findingView) };
  }
  const runId = newId(CHECK_RUN_PREFIX, ctx.now());
  await insertCheckRun(ctx.db, {
    id: runId,
    workspaceId: req.workspaceId,
    trigger: 'manual',
    scope: Array.isArray(customerIds) ? { customerId: customerIds[0] } : { customers: 'active' },
    status: 'queued',
    owner: `pid:${process.pid}`,
    at: new Date(ctx.now()),
  });
  // The run records its own failure; the log has the cause.
  void checkCustomers(ctx, { workspaceId: req.workspaceId, customerIds, trigger: 'manual', runId }).catch((err: unknown) =>
    ctx.log.warn({ err, runId }, 'queued parity check failed'),
  );
  return { runId, queued: true };
}
