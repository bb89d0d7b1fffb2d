// Endpoints as the API lists them, each with its delivery counts, so an operator sees at once which one is
// backing up or failing.
import { deliveryStatsByEndpoint } from '../../db/queries/deliveries.js';
import { findEndpoint, listEndpoints as queryEndpoints } from '../../db/queries/endpoints.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { toEndpointView, type EndpointView } from './endpoint-view.js';
import { oneOf, page, parseCursor, parseLimit } from '../input.js';

type Stats = { pending: number; failed: number; succeeded: number; oldestPendingSeconds: number | null };
const NO_STATS: Stats = { pending: 0, failed: 0, succeeded: 0, oldestPendingSeconds: null };

async function statsFor(ctx: Ctx, workspaceId: string): Promise<Map<string, Stats>> {
  const rows = await deliveryStatsByEndpoint(ctx.db, workspaceId);
  return new Map(
    rows.map((r) => [
      r.endpoint_id,
      {
        pending: r.pending,
        failed: r.failed,
        succeeded: r.succeeded,
        oldestPendingSeconds: r.oldest_pending_seconds === null ? null : Math.round(r.oldest_pending_seconds),
      },
    ]),
  );
}

/** `withStats: false` leaves out the delivery counts (an aggregate over every delivery of the workspace): the
 *  console lists endpoints with a bounded sparkline instead. */
export async function listEndpoints(ctx: Ctx, workspaceId: string, q: Record<string, unknown>, o: { withStats?: boolean } = {}) {
  const limit = parseLimit(q.limit);
  const before = parseCursor(q.cursor);
  const kind = oneOf(q.kind, 'kind', ['endpoint', 'hook', 'forward'] as const);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const p = page(await queryEndpoints(ctx.db, { workspaceId, kind, before, limit: limit + 1 }), limit);
  const stats = o.withStats === false ? new Map<string, Stats>() : await statsFor(ctx, workspaceId);
  return { data: p.data.map((r) => ({ ...toEndpointView(r), deliveries: stats.get(r.id) ?? NO_STATS })), nextCursor: p.nextCursor };
}

export async function getEndpoint(ctx: Ctx, workspaceId: string, id: string): Promise<EndpointView & { deliveries: Stats }> {
  const row = await findEndpoint(ctx.db, workspaceId, id);
  if (!row) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(id)} in this workspace`);
  const stats = await statsFor(ctx, workspaceId);
  return { ...toEndpointView(row), deliveries: stats.get(row.id) ?? NO_STATS };
}

/** One endpoint without the workspace's delivery counts (the console's detail page reads its deliveries). */
export async function findEndpointView(ctx: Ctx, workspaceId: string, id: string): Promise<EndpointView> {
  const row = await findEndpoint(ctx.db, workspaceId, id);
  if (!row) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(id)} in this workspace`);
  return toEndpointView(row);
}
