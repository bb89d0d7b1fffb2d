import type { WorkspaceRow } from '../../db/queries/workspaces.js';
import type { Ctx } from '../context.js';

export interface WorkspaceView {
  id: string;
  name: string;
  demo: boolean;
  /** Days of history kept; null follows SLUICE_RETENTION_DAYS. */
  retentionDays: number | null;
  /** Days finished workflow runs are kept; null follows SLUICE_WORKFLOW_RUN_RETENTION_DAYS. */
  workflowRunRetentionDays: number | null;
  createdAt: string;
  webhookUrls: { stripe: string; piano: string };
}

export function webhookUrls(ctx: Ctx, workspaceId: string): { stripe: string; piano: string } {
  const base = ctx.publicUrl();
  return { stripe: `${base}/webhooks/stripe/${workspaceId}`, piano: `${base}/webhooks/piano/${workspaceId}` };
}

export function toWorkspaceView(ctx: Ctx, ws: WorkspaceRow): WorkspaceView {
  return {
    id: ws.id,
    name: ws.name,
    demo: ws.demo,
    retentionDays: ws.retentionDays,
    workflowRunRetentionDays: ws.workflowRunRetentionDays,
    createdAt: ws.createdAt.toISOString(),
    webhookUrls: webhookUrls(ctx, ws.id),
  };
}
