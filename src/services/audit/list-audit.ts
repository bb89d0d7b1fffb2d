import { listAudit as queryAudit } from '../../db/queries/audit-log.js';
import type { Ctx } from '../context.js';
import { page, parseCursor, parseLimit } from '../input.js';

export interface AuditView {
  id: string;
  at: string;
  actor: string;
  actorLabel: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
}

export async function listAudit(ctx: Ctx, workspaceId: string, query: { limit?: unknown; cursor?: unknown }) {
  const limit = parseLimit(query.limit);
  const rows = await queryAudit(ctx.db, workspaceId, { limit: limit + 1, before: parseCursor(query.cursor) });
  const p = page(rows, limit);
  return {
    data: p.data.map((r): AuditView => ({
      id: r.id,
      at: new Date(r.at).toISOString(),
      actor: r.actor,
      actorLabel: r.actorLabel,
      action: r.action,
      target: r.target,
      detail: r.detail,
    })),
    nextCursor: p.nextCursor,
  };
}
