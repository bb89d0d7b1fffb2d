// Claims customers due for an event-triggered check (see jobs/parity-checker.ts): their check_due_at has come, or
// the checker that claimed them died (its lease ran out). Grouped by workspace.
import { claimDueCustomers } from '../../db/queries/parity-state.js';
import type { Ctx } from '../context.js';

export async function claimCustomersDue(ctx: Ctx, input: { leaseUntil: Date; limit: number }): Promise<Map<string, string[]>> {
  return claimDueCustomers(ctx.db, new Date(ctx.now()), input.leaseUntil, input.limit);
}
