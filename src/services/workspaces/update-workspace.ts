import { updateWorkspace } from '../../db/queries/workspaces.js';
import { ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { changeInboundSettings } from '../ingest/inbound-runtime.js';
import { asObject, optionalBoolean, optionalName } from '../input.js';
import { toWorkspaceView, type WorkspaceView } from './workspace-view.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';

/** PATCH: a new name, demo mode and/or retention (days of history and of workflow runs, or null for the server
 *  defaults); the id, and so the webhook URLs, never change. */
export async function updateWorkspaceSettings(ctx: Ctx, workspaceId: string, input: unknown, actor: Actor): Promise<WorkspaceView> {
  const body = asObject(input);
  const FIELDS = ['name', 'demo', 'retentionDays', 'workflowRunRetentionDays'];
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0)
    throw new ValidationError(
      `unknown field ${unknown.join(', ')}: a workspace has name, demo, retentionDays and workflowRunRetentionDays`,
      {
        field: unknown[0],
      },
    );
  const name = optionalName(body, 'name', 120);
  const demo = optionalBoolean(body, 'demo');
  const retentionDays = body.retentionDays;
  if (
    retentionDays !== undefined &&
    retentionDays !== null &&
    !(Number.isInteger(retentionDays) && (retentionDays as number) >= 1 && (retentionDays as number) <= 36_500)
  )
    throw new ValidationError('retentionDays must be an integer from 1 to 36500, or null for the server default', {
      field: 'retentionDays',
    });
  const workflowRunRetentionDays = body.workflowRunRetentionDays;
  if (
    workflowRunRetentionDays !== undefined &&
    workflowRunRetentionDays !== null &&
    !(
      Number.isInteger(workflowRunRetentionDays) &&
      (workflowRunRetentionDays as number) >= 1 &&
      (workflowRunRetentionDays as number) <= 36_500
    )
  )
    throw new ValidationError(
      'workflowRunRetentionDays must be an integer from 1 to 36500, or null for the server default (SLUICE_WORKFLOW_RUN_RETENTION_DAYS)',
      { field: 'workflowRunRetentionDays' },
    );
  if (name === undefined && demo === undefined && retentionDays === undefined && workflowRunRetentionDays === undefined)
    throw new ValidationError('send name, demo, retentionDays and/or workflowRunRetentionDays to change');
  // The demo flag decides how inbound events are kept: other instances must hear of it.
  const ws = await changeInboundSettings(ctx, workspaceId, (tx) =>
    updateWorkspace(tx, workspaceId, {
      name,
      demo,
      retentionDays: retentionDays as number | null | undefined,
      workflowRunRetentionDays: workflowRunRetentionDays as number | null | undefined,
    }),
  );
  if (!ws) throw new WorkspaceNotFoundError(workspaceId);
  ctx.log.info({ workspaceId, renamed: name !== undefined, demo, retentionDays, workflowRunRetentionDays }, 'workspace updated');
  await recordAudit(ctx, actor, workspaceId, 'workspace.updated', workspaceId, {
    ...(name === undefined ? {} : { name }),
    ...(demo === undefined ? {} : { demo }),
    ...(retentionDays === undefined ? {} : { retentionDays }),
    ...(workflowRunRetentionDays === undefined ? {} : { workflowRunRetentionDays }),
  });
  return toWorkspaceView(ctx, ws);
}
