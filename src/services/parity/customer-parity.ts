// GET …/parity/customers/:id: the check of one customer as it stands now, without recording anything — per
// access key, what is expected (paid) and what is actual (given), the sources, the rule that decided, and the
// findings; with the customer's live incidents of parity findings and its next boundary.
import { findCustomerRef, liveIncidentsOfSubject, loadCustomerStates } from '../../db/queries/parity-state.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import { checkCustomer, FINDING_KINDS, type KeyReport } from '../../parity/check.js';
import type { Ctx } from '../context.js';
import { incidentView, type IncidentView } from '../incidents/incident-view.js';
import { findingView, type FindingView } from './check-run-view.js';
import { loadPolicy } from './load-policy.js';

export interface CustomerParity {
  customerId: string;
  provider: string;
  providerId: string;
  checkedAt: string;
  repair: 'report' | 'auto';
  keys: KeyReport[];
  findings: FindingView[];
  nextCheckAt: string | null;
  incidents: IncidentView[];
}

export async function customerParity(ctx: Ctx, workspaceId: string, ref: string): Promise<CustomerParity> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const customer = await findCustomerRef(ctx.db, workspaceId, ref);
  if (!customer) throw new NotFoundError('CUSTOMER_NOT_FOUND', `no customer ${JSON.stringify(ref)} in this workspace`);
  const policy = await loadPolicy(ctx.db, workspaceId);
  const states = await loadCustomerStates(ctx.db, workspaceId, [customer.id], {
    lookupKeys: policy.accessMap.some((e) => e.match.lookupKey !== undefined),
    stuckBefore: new Date(ctx.now() - policy.stuckEventMinutes * 60_000),
  });
  const state = states.get(customer.id)!;
  const now = new Date(ctx.now());
  const result = checkCustomer(state, policy, now);
  const incidents = await liveIncidentsOfSubject(ctx.db, workspaceId, customer.id, FINDING_KINDS);
  return {
    customerId: customer.id,
    provider: state.customer.provider,
    providerId: state.customer.providerId,
    checkedAt: now.toISOString(),
    repair: policy.repair,
    keys: result.keys,
    findings: result.findings.map(findingView),
    nextCheckAt: result.nextCheckAt?.toISOString() ?? null,
    incidents: incidents.map(incidentView),
  };
}
