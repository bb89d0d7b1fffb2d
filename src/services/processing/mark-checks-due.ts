// After a batch's projections, inside its transaction: the customers its events linked (and the customers its
// failed events name) are marked due for a parity check, debounced by SLUICE_CHECK_DEBOUNCE_MS. One query per
// batch (two when an event failed), never one per event.
import type { Queryable } from '../../db/port.js';
import { markCheckDue } from '../../db/queries/customer-checks.js';
import { customersLinkedToEvents, customersNamedByEvents } from '../../db/queries/parity-state.js';
import type { Ctx } from '../context.js';

/** The time the check falls due, or undefined when no customer was marked. */
export async function markChecksDue(
  ctx: Ctx,
  tx: Queryable,
  projected: readonly string[],
  failed: readonly string[],
): Promise<number | undefined> {
  const customers = new Set(await customersLinkedToEvents(tx, projected));
  // A failed event's projection rolled back (it linked nobody): its customer is found by the id its payload names.
  if (failed.length > 0) for (const id of await customersNamedByEvents(tx, failed)) customers.add(id);
  if (customers.size === 0) return undefined;
  const dueAt = ctx.now() + ctx.config.checkDebounceMs;
  await markCheckDue(tx, [...customers].sort(), new Date(dueAt));
  return dueAt;
}
