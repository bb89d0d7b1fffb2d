// GET …/workflows, …/workflows/:id, …/workflows/:id/versions, DELETE …/workflows/:id.
import { deleteWorkflow, findWorkflow, listWorkflows, workflowVersions, type WorkflowRow } from '../../db/queries/workflows.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { workflowView } from './workflow-view.js';

export async function requireWorkflow(ctx: Ctx, workspaceId: string, id: string): Promise<WorkflowRow> {
  const w = await findWorkflow(ctx.db, workspaceId, id);
  if (!w) {
    if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
    throw new NotFoundError('WORKFLOW_NOT_FOUND', `no workflow ${JSON.stringify(id)} in this workspace`);
  }
  return w;
}

export async function listWorkflowsOf(ctx: Ctx, workspaceId: string) {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  return { data: (await listWorkflows(ctx.db, workspaceId)).map(workflowView) };
}

export async function getWorkflow(ctx: Ctx, workspaceId: string, id: string) {
  return workflowView(await requireWorkflow(ctx, workspaceId, id));
}

export async function listWorkflowVersions(ctx: Ctx, workspaceId: string, id: string) {
  await requireWorkflow(ctx, workspaceId, id);
  return {
    data: (await workflowVersions(ctx.db, id)).map((v) => ({
      version: v.version,
      definition: v.definition,
      createdAt: v.createdAt.toISOString(),
    })),
  };
}

/** Deleting stops new runs; runs already started finish on their version, and the history stays readable. */
export async function removeWorkflow(ctx: Ctx, workspaceId: string, id: string, actor: Actor): Promise<void> {
  const workflow = await requireWorkflow(ctx, workspaceId, id);
  await ctx.db.transaction(async (tx) => {
    await deleteWorkflow(tx, workspaceId, id);
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'workflow.deleted', id, { name: workflow.name });
  });
}
