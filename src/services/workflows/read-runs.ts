// GET …/workflows/:id/runs?status= and GET …/runs/:id (steps with rendered input, output or error, attempts).
import { attemptsOfRun, findRun, listRuns, stepsOfRun } from '../../db/queries/workflows.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { page, parseLimit } from '../input.js';
import { requireWorkflow } from './read-workflows.js';
import { runView } from './workflow-view.js';

const STATUSES = ['filtered', 'running', 'waiting', 'succeeded', 'failed'];

export async function listWorkflowRuns(
  ctx: Ctx,
  workspaceId: string,
  workflowId: string,
  q: { status?: string | undefined; limit?: unknown; cursor?: string | undefined },
) {
  await requireWorkflow(ctx, workspaceId, workflowId);
  if (q.status !== undefined && !STATUSES.includes(q.status))
    throw new ValidationError(`status must be one of ${STATUSES.join(', ')}`, { field: 'status' });
  const limit = parseLimit(q.limit);
  const rows = await listRuns(ctx.db, workspaceId, workflowId, { status: q.status, before: q.cursor, limit: limit + 1 });
  const p = page(rows, limit);
  return { data: p.data.map((r) => runView(r)), nextCursor: p.nextCursor };
}

export async function getRun(ctx: Ctx, workspaceId: string, runId: string) {
  const run = await findRun(ctx.db, workspaceId, runId);
  if (!run) throw new NotFoundError('RUN_NOT_FOUND', `no workflow run ${JSON.stringify(runId)} in this workspace`);
  const [steps, attempts] = await Promise.all([stepsOfRun(ctx.db, run.id), attemptsOfRun(ctx.db, run.id)]);
  return runView(run, steps, attempts);
}
