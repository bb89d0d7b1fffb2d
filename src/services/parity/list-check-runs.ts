// GET …/check-runs and …/check-runs/:id.
import { findCheckRun, listCheckRuns as queryRuns } from '../../db/queries/check-runs.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { oneOf, page, parseCursor, parseLimit } from '../input.js';
import { checkRunView, type CheckRunView } from './check-run-view.js';
import { CHECK_TRIGGERS } from './run-checks.js';

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;

export async function listCheckRuns(
  ctx: Ctx,
  workspaceId: string,
  q: Record<string, unknown>,
): Promise<{ data: CheckRunView[]; nextCursor: string | null }> {
  const limit = parseLimit(q.limit);
  const before = parseCursor(q.cursor);
  const trigger = oneOf(q.trigger, 'trigger', CHECK_TRIGGERS);
  const status = oneOf(q.status, 'status', RUN_STATUSES);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const p = page(await queryRuns(ctx.db, { workspaceId, trigger, status, before, limit: limit + 1 }), limit);
  return { data: p.data.map(checkRunView), nextCursor: p.nextCursor };
}

export async function getCheckRun(ctx: Ctx, workspaceId: string, id: string): Promise<CheckRunView> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const run = await findCheckRun(ctx.db, workspaceId, id);
  if (!run) throw new NotFoundError('CHECK_RUN_NOT_FOUND', `no check run ${JSON.stringify(id)} in this workspace`);
  return checkRunView(run);
}
