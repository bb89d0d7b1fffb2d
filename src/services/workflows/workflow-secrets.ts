// PUT …/secrets/:name (write-only, sealed with the master key), GET …/secrets (names only) and DELETE …/secrets/:name.
import { deleteSecret, listSecrets, putSecret } from '../../db/queries/workflows.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
// A secret goes only into URLs and headers (docs/workflows.md), and HTTP allows no control character in a header
// but tab: a value with CR/LF (a trailing newline from `echo` or a paste) was stored and then failed every send.
const NOT_IN_A_HEADER = /[^\P{Cc}\t]/u;

function checkName(name: string): void {
  if (!NAME.test(name))
    throw new ValidationError('a secret name is letters, digits and underscores, not starting with a digit, up to 64 characters', {
      field: 'name',
    });
}

/** Storing or replacing a secret is changing a credential: it is audited (the name, never the value), like its deletion. */
export async function saveWorkflowSecret(ctx: Ctx, workspaceId: string, name: string, input: unknown, actor: Actor) {
  checkName(name);
  const body = asObject(input);
  const value = body.value;
  if (typeof value !== 'string' || value === '' || value.length > 8192)
    throw new ValidationError('value must be a string of 1 to 8192 characters', { field: 'value' });
  const bad = NOT_IN_A_HEADER.exec(value);
  if (bad) {
    // Which character and whether it ends the value, never the value itself.
    const code = `U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    const atEnd = /^[\r\n]+$/.test(value.slice(bad.index))
      ? ' at its end: remove the trailing line break'
      : bad.index === value.length - 1
        ? ' at its end'
        : '';
    throw new ValidationError(
      `value must not contain control characters other than tab (${code}${atEnd}): a secret is put into URLs and headers, which cannot carry them`,
      { field: 'value' },
    );
  }
  if (Object.keys(body).some((k) => k !== 'value')) throw new ValidationError('the body is {value}', { field: 'value' });
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const created = await ctx.db.transaction(async (tx) => {
    const isNew = await putSecret(tx, workspaceId, name, ctx.secretBox.seal(value));
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'workflow.secret.saved', name, { replaced: !isNew });
    return isNew;
  });
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

/** A step that still reads the secret then fails, naming it (`secrets has no field "NAME"`), as for one never stored. */
export async function removeWorkflowSecret(ctx: Ctx, workspaceId: string, name: string, actor: Actor): Promise<void> {
  checkName(name);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  if (!(await deleteSecret(ctx.db, workspaceId, name)))
    throw new NotFoundError('SECRET_NOT_FOUND', `the workspace has no secret named ${name} (GET …/secrets lists them)`);
  await recordAudit(ctx, actor, workspaceId, 'workflow.secret.deleted', name);
}
