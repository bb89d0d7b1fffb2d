// POST …/workflows and PATCH …/workflows/:id. A definition is validated as a whole (every problem listed in one
// 422); a change of trigger or steps is a new immutable version, runs already started stay on theirs. Both are in
// the workspace's audit log: a definition can send the workspace's secrets to any address it names.
import { findWorkflow, insertWorkflow, updateWorkflow } from '../../db/queries/workflows.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, UnprocessableError, WorkspaceNotFoundError } from '../../errors.js';
import { canonicalJson } from '../../lib/canonical-json.js';
import { newId } from '../../lib/ids.js';
import { validateDefinition, type WorkflowDefinition } from '../../workflows/definition.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { workflowView } from './workflow-view.js';
import { workspaceCustomTypes } from './workflow-runtime.js';

async function validated(ctx: Ctx, workspaceId: string, input: unknown): Promise<WorkflowDefinition> {
  const r = validateDefinition(input, { customTypes: await workspaceCustomTypes(ctx.db, workspaceId) });
  if (!r.ok) {
    const first = r.problems.slice(0, 3).map((p) => `${p.path || '(definition)'}: ${p.message}`);
    throw new UnprocessableError(
      'VALIDATION_FAILED',
      `the workflow definition has ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}: ${first.join('; ')}${r.problems.length > 3 ? '; …' : ''}; nothing was saved`,
      { problems: r.problems },
    );
  }
  return r.definition;
}

export async function createWorkflow(ctx: Ctx, workspaceId: string, input: unknown, actor: Actor) {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const definition = await validated(ctx, workspaceId, input);
  const id = newId('wfl', ctx.now());
  await ctx.db.transaction(async (tx) => {
    await insertWorkflow(tx, { id, workspaceId, name: definition.name, enabled: definition.enabled, definition });
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'workflow.created', id, {
      name: definition.name,
      enabled: definition.enabled,
    });
  });
  return workflowView((await findWorkflow(ctx.db, workspaceId, id))!);
}

export async function patchWorkflow(ctx: Ctx, workspaceId: string, id: string, input: unknown, actor: Actor) {
  const patch = asObject(input);
  await ctx.db.transaction(async (tx) => {
    const current = await findWorkflow(tx, workspaceId, id, true);
    if (!current) throw new NotFoundError('WORKFLOW_NOT_FOUND', `no workflow ${JSON.stringify(id)} in this workspace`);
    const before = current.definition as WorkflowDefinition;
    // `enabled` of the stored version is what it was when that version was made; the workflow row holds the
    // current one (switching it makes no version), so a PATCH without `enabled` keeps the current state.
    const definition = await validated(ctx, workspaceId, { ...before, enabled: current.enabled, ...patch });
    // Compared with sorted keys: the stored definition comes back from jsonb with its keys in jsonb's order.
    const changed = canonicalJson({ ...definition, enabled: before.enabled }) !== canonicalJson({ ...before, enabled: before.enabled });
    // The same definition again (`sluice workflow apply` of an unchanged file): nothing is written.
    if (!changed && definition.enabled === current.enabled) return;
    await updateWorkflow(tx, {
      id,
      name: definition.name,
      enabled: definition.enabled,
      definition,
      newVersion: changed ? current.version + 1 : null,
    });
    // What changed, never the definition itself (its steps may name secrets): the version it made, if any.
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'workflow.updated', id, {
      name: definition.name,
      enabled: definition.enabled,
      version: changed ? current.version + 1 : null,
    });
  });
  return workflowView((await findWorkflow(ctx.db, workspaceId, id))!);
}
