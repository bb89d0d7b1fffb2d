// The daily reconciliation scan's schedule of every workspace (its policy's scanSchedule, else the default).
import { scanSchedules } from '../../db/queries/parity-settings.js';
import { storedPolicy } from '../../parity/policy.js';
import type { Ctx } from '../context.js';

export async function listScanSchedules(ctx: Ctx): Promise<{ workspaceId: string; cron: string }[]> {
  const rows = await scanSchedules(ctx.db);
  return rows.map((r) => ({ workspaceId: r.workspaceId, cron: storedPolicy(r.policy).scanSchedule }));
}
