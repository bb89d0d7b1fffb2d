// Recent delivery outcomes per endpoint, oldest to newest, for the console's sparklines: a bounded read (the
// newest few deliveries of each endpoint on its index), never an aggregate over the whole table.
import { recentDeliveryOutcomes } from '../../db/queries/deliveries.js';
import type { Ctx } from '../context.js';

/** succeeded; retrying (pending after a failed attempt); pending (not tried yet); failed (gave up). */
export type Outcome = 'succeeded' | 'retrying' | 'pending' | 'failed';

export async function recentOutcomes(ctx: Ctx, endpointIds: string[], perEndpoint = 30): Promise<Map<string, Outcome[]>> {
  const rows = await recentDeliveryOutcomes(ctx.db, endpointIds, Math.min(Math.max(perEndpoint, 1), 100));
  const out = new Map<string, Outcome[]>(endpointIds.map((id) => [id, []]));
  for (const r of rows) {
    const outcome: Outcome = r.status === 'pending' ? (r.attempts > 0 ? 'retrying' : 'pending') : r.status;
    out.get(r.endpoint_id)?.unshift(outcome);
  }
  return out;
}
