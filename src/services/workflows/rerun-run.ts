// POST …/runs/:id/rerun {fromStep}: a finished run (succeeded or failed) executes again from one of the steps it
// reached. It stays the same run — one run per (workflow, trigger event) — with its attempt counted up, on its
// own version. Steps before `fromStep` keep their outputs; `fromStep` and every step after it on the run's path
// become history (still shown in the run log) and are executed anew: inputs rendered again, and the keys their
// effects are deduplicated by carry the rerun's attempt (src/workflows/step-keys.ts), so an http receiver or an
// emitted event sees a new request rather than a repeat. `retry` is the other verb: failed steps only, frozen
// inputs, the same keys.
import { rerunFromStep, runById, stepsOfRun } from '../../db/queries/workflows.js';
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { findStep } from '../../workflows/plan.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { getRun } from './read-runs.js';
import { compiledVersion } from './workflow-runtime.js';

export async function rerunRun(ctx: Ctx, workspaceId: string, runId: string, input: unknown) {
  const body = asObject(input);
  const extra = Object.keys(body).filter((k) => k !== 'fromStep');
  if (extra.length > 0) throw new ValidationError(`unknown field ${extra.join(', ')}: a rerun takes fromStep`, { field: extra[0] });
  const fromStep = body.fromStep;
  if (typeof fromStep !== 'string' || fromStep === '')
    throw new ValidationError('fromStep is required: the id of the step to run again from', { field: 'fromStep' });
  await ctx.db.transaction(async (tx) => {
    // Locked: a second rerun (or a retry) of the same run waits, then finds it running.
    const run = await runById(tx, runId, true);
    if (!run || run.workspaceId !== workspaceId)
      throw new NotFoundError('RUN_NOT_FOUND', `no workflow run ${JSON.stringify(runId)} in this workspace`);
    if (run.status !== 'succeeded' && run.status !== 'failed') {
      throw new ConflictError(
        'RUN_NOT_FINISHED',
        run.status === 'filtered'
          ? `run ${runId} is filtered: it ran no step; replay the workflow with status ["filtered"] to evaluate its trigger again`
          : `run ${runId} is ${run.status}; only a succeeded or failed run can be rerun`,
      );
    }
    const version = await compiledVersion(tx, run.workflowId, run.version);
    if (!findStep(version.index, fromStep)) {
      throw new UnprocessableError(
        'STEP_NOT_FOUND',
        `version ${run.version} of the workflow (the run's) has no step ${JSON.stringify(fromStep)}; its steps are ${[...version.index.places.keys()].join(', ')}`,
        { field: 'fromStep' },
      );
    }
    const current = (await stepsOfRun(tx, run.id)).filter((s) => !s.superseded);
    if (!current.some((s) => s.stepId === fromStep)) {
      throw new UnprocessableError(
        'STEP_NOT_ON_PATH',
        `this run did not reach step ${JSON.stringify(fromStep)}; the steps it took are ${current.map((s) => s.stepId).join(', ') || 'none'}`,
        { field: 'fromStep' },
      );
    }
    // The run walks its steps depth first in the order they are written (plan.ts), so the steps it took from
    // `fromStep` on are those of its rows at or after `fromStep` in that order.
    const order = [...version.index.places.keys()];
    const from = order.indexOf(fromStep);
    const step = findStep(version.index, fromStep)!;
    await rerunFromStep(tx, {
      runId: run.id,
      workspaceId,
      stepIds: current.filter((s) => order.indexOf(s.stepId) >= from).map((s) => s.stepId),
      newRowId: newId('wfs', ctx.now()),
      stepId: step.id,
      kind: step.kind,
    });
  });
  ctx.log.info({ workspaceId, runId, fromStep }, 'workflow run rerun');
  ctx.wakeWorkflows?.();
  return getRun(ctx, workspaceId, runId);
}
