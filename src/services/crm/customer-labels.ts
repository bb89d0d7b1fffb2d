// What the console writes for a customer id in a list (an incident's subject, a finding): the name, else the
// email, else the provider's id. Ids that are not customers of the workspace are absent from the answer.
import { customerLabelRows } from '../../db/queries/console-labels.js';
import type { Ctx } from '../context.js';

export async function customerLabels(ctx: Ctx, workspaceId: string, ids: readonly string[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((id) => id.startsWith('cus_')))];
  const out = new Map<string, string>();
  for (const r of await customerLabelRows(ctx.db, workspaceId, wanted)) {
    const label = [r.name, r.email, r.providerId].find((v) => typeof v === 'string' && v.trim() !== '');
    out.set(r.id, label ?? r.id);
  }
  return out;
}
