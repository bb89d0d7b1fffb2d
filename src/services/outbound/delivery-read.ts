// Deliveries as operators look at them: per endpoint or per message, and one with every attempt.
import { attemptsOf, findDelivery, listDeliveries as queryDeliveries, type DeliveryRow } from '../../db/queries/deliveries.js';
import { findEndpoint } from '../../db/queries/endpoints.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { oneOf, optionalString, page, parseCursor, parseLimit } from '../input.js';

function view(d: DeliveryRow) {
  return {
    id: d.id,
    endpointId: d.endpoint_id,
    messageId: d.message_id,
    messageType: d.message_type,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
    lastStatusCode: d.last_status_code,
    lastError: d.last_error,
    createdAt: d.created_at.toISOString(),
    finishedAt: d.finished_at?.toISOString() ?? null,
  };
}

export async function listDeliveries(ctx: Ctx, workspaceId: string, q: Record<string, unknown>, endpointId?: string) {
  const limit = parseLimit(q.limit);
  const before = parseCursor(q.cursor);
  const status = oneOf(q.status, 'status', ['pending', 'succeeded', 'failed'] as const);
  const messageId = optionalString(q, 'message', 100);
  const messageType = optionalString(q, 'type', 200);
  const endpointFilter = endpointId ?? optionalString(q, 'endpoint', 100);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  if (endpointId && !(await findEndpoint(ctx.db, workspaceId, endpointId))) {
    throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
  }
  const rows = await queryDeliveries(ctx.db, {
    workspaceId,
    endpointId: endpointFilter,
    messageId,
    messageType,
    status,
    before,
    limit: limit + 1,
  });
  const p = page(rows, limit);
  return { data: p.data.map(view), nextCursor: p.nextCursor };
}

export async function getDelivery(ctx: Ctx, workspaceId: string, id: string) {
  const d = await findDelivery(ctx.db, workspaceId, id);
  if (!d) throw new NotFoundError('DELIVERY_NOT_FOUND', `no delivery ${JSON.stringify(id)} in this workspace`);
  const attempts = await attemptsOf(ctx.db, d.id);
  return {
    ...view(d),
    attemptLog: attempts.map((a) => ({
      id: a.id,
      startedAt: a.started_at.toISOString(),
      durationMs: a.duration_ms,
      statusCode: a.status_code,
      responseExcerpt: a.response_excerpt,
      error: a.error,
      outcome: a.outcome,
    })),
  };
}
