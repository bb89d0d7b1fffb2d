// Placeholder: the real checkCustomers is built on branch parity-checks; the lead takes that one at merge.
import type { Ctx } from '../context.js';

export interface Finding {
  kind: string;
  subject: string;
  key?: string;
  expected: unknown;
  actual: unknown;
  rule: string;
}

export interface CheckSummary {
  checked: number;
  findings: Finding[];
  opened: number;
  resolved: number;
}

export async function checkCustomers(
  _ctx: Ctx,
  _input: {
    workspaceId: string;
    customerIds: string[] | 'all' | 'active';
    trigger: 'event' | 'schedule' | 'cron' | 'manual' | 'scan';
    runId?: string;
  },
): Promise<CheckSummary> {
  throw new Error('checkCustomers is not built yet (placeholder)');
}
