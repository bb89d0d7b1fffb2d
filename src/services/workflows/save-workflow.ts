// POST …/workflows and PATCH …/workflows/:id. A definition is validated as a whole (every problem listed in one
// 422); a change of trigger or steps is a new immutable version, runs already started stay on theirs.
import { findWorkflow, insertWorkflow, updateWorkflow } from '../../db/queries/workflows.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, UnprocessableError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { validateDefinition, type WorkflowDefinition } from '../../workflows/definition.js';
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

export async function createWorkflow(ctx: Ctx, workspaceId: string, input: unknown) {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const definition = await validated(ctx, workspaceId, input);
  const id = newId('wfl', ctx.now());
  await ctx.db.transaction((tx) => insertWorkflow(tx, { id, workspaceId, name: definition.name, enabled: definition.enabled, definition }));
  return workflowView((await findWorkflow(ctx.db, workspaceId, id))!);
}

export async function patchWorkflow(ctx: Ctx, workspaceId: string, id: string, input: unknown) {
  const patch = asObject(input);
  await ctx.db.transaction(async (tx) => {
    const current = await findWorkflow(tx, workspaceId, id, true);
    if (!current) throw new NotFoundError('WORKFLOW_NOT_FOUND', `no workflow ${JSON.stringify(id)} in this workspace`);
    const before = current.definition as WorkflowDefinition;
    const definition = await validated(ctx, workspaceId, { ...before, ...patch });
    // The stored definition comes back from jsonb with its keys reordered: compared key order aside, or every
    // PATCH (an enable, a save of the same text) would make a new version.
    const changed = !sameJson({ ...definition, enabled: before.enabled }, { ...before, enabled: before.enabled });
    await updateWorkflow(tx, {
      id,
      name: definition.name,
      enabled: definition.enabled,
      definition,
      newVersion: changed ? current.version + 1 : null,
    });
  });
  return workflowView((await findWorkflow(ctx.db, workspaceId, id))!);
}

/** Whether two JSON values are equal, whatever the order of their objects' keys. */
function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}
