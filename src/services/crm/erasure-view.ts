import { listErasures as queryErasures, type ErasureRow } from '../../db/queries/erasure.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { page, parseCursor, parseLimit } from '../input.js';

/** The audit record of one erasure: who asked, when, which identities, how many rows per kind changed. */
export interface ErasureView {
  id: string;
  requestedBy: string;
  customerIds: string[];
  providerIds: string[];
  counts: Record<string, number>;
  erasedAt: string;
}

export function toErasureView(row: ErasureRow): ErasureView {
  return { ...row, erasedAt: row.erasedAt.toISOString() };
}

export async function listErasures(
  ctx: Ctx,
  workspaceId: string,
  query: { limit?: unknown; cursor?: unknown },
): Promise<{ data: ErasureView[]; nextCursor: string | null }> {
  const limit = parseLimit(query.limit);
  const before = parseCursor(query.cursor);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const p = page(await queryErasures(ctx.db, workspaceId, { limit: limit + 1, before }), limit);
  return { data: p.data.map(toErasureView), nextCursor: p.nextCursor };
}
