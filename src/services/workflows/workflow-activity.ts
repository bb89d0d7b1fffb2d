// The workflows as the console lists them: each with its last run (status and time) and its runs of the last
// 24 hours by status, so a glance at the list says which workflow is working and which is failing.
import { lastRunsOf, runCountsSince } from '../../db/queries/workflow-activity.js';
import { idFloor } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { listWorkflowsOf } from './read-workflows.js';

const DAY_MS = 24 * 3600 * 1000;

export interface WorkflowActivity {
  lastRun: { id: string; status: string; createdAt: string } | null;
  /** Runs started in the last 24 hours, by status (statuses without runs are absent). */
  lastDay: Record<string, number>;
}

export async function listWorkflowsWithActivity(ctx: Ctx, workspaceId: string) {
  const { data } = await listWorkflowsOf(ctx, workspaceId);
  const [last, counts] = await Promise.all([
    lastRunsOf(
      ctx.db,
      workspaceId,
      data.map((w) => w.id),
    ),
    runCountsSince(ctx.db, workspaceId, idFloor('wfr', ctx.now() - DAY_MS)),
  ]);
  const lastById = new Map(last.map((r) => [r.workflowId, r]));
  return {
    data: data.map((w): typeof w & WorkflowActivity => {
      const r = lastById.get(w.id);
      const lastDay: Record<string, number> = {};
      for (const c of counts) if (c.workflowId === w.id) lastDay[c.status] = c.n;
      return { ...w, lastRun: r ? { id: r.id, status: r.status, createdAt: r.createdAt.toISOString() } : null, lastDay };
    }),
  };
}
