// POST …/runs/:id/retry: a failed run goes on from its failed steps, with their frozen inputs and the same
// idempotency keys; steps that succeeded are not run again.
import { findRun, retryFailedSteps } from '../../db/queries/workflows.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { getRun } from './read-runs.js';

export async function retryRun(ctx: Ctx, workspaceId: string, runId: string) {
  const run = await findRun(ctx.db, workspaceId, runId);
  if (!run) throw new NotFoundError('RUN_NOT_FOUND', `no workflow run ${JSON.stringify(runId)} in this workspace`);
  const retried = await ctx.db.transaction((tx) => retryFailedSteps(tx, run.id));
  if (retried < 0) throw new ConflictError('RUN_NOT_FAILED', `run ${runId} is ${run.status}; only a failed run can be retried`);
  if (retried === 0)
    throw new ConflictError(
      'RUN_NOT_RETRYABLE',
      `run ${runId} failed before any step (${run.error ?? 'at its trigger'}): there is no step to retry; replay the workflow with status ["failed"] to evaluate its trigger again with the current version`,
    );
  ctx.wakeWorkflows?.();
  return getRun(ctx, workspaceId, runId);
}
