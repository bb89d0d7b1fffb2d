// PUT …/secrets/:name (write-only, sealed with the master key) and GET …/secrets (names only).
import { listSecrets, putSecret } from '../../db/queries/workflows.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export async function saveWorkflowSecret(ctx: Ctx, workspaceId: string, name: string, input: unknown) {
  if (!NAME.test(name))
    throw new ValidationError('a secret name is letters, digits and underscores, not starting with a digit, up to 64 characters', {
      field: 'name',
    });
  const body = asObject(input);
  const value = body.value;
  if (typeof value !== 'string' || value === '' || value.length > 8192)
    throw new ValidationError('value must be a string of 1 to 8192 characters', { field: 'value' });
  if (Object.keys(body).some((k) => k !== 'value')) throw new ValidationError('the body is {value}', { field: 'value' });
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const created = await putSecret(ctx.db, workspaceId, name, ctx.secretBox.seal(value));
  return { name, created };
}

export async function listWorkflowSecrets(ctx: Ctx, workspaceId: string) {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  return {
    data: (await listSecrets(ctx.db, workspaceId)).map((s) => ({
      name: s.name,
      createdAt: s.createdAt.toISOString(),
      updatedAt: s.updatedAt.toISOString(),
    })),
  };
}
