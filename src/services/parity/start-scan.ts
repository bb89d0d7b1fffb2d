// Placeholder: the real verbs are built by another helper of issue 12 and replace this file at merge.
import type { Ctx } from '../context.js';

export interface ScanRequest {
  workspaceId: string;
  provider?: 'stripe' | 'piano';
  since?: Date;
  dryRun?: boolean;
  startedBy: 'manual' | 'schedule' | 'cron';
}

export async function startScan(_ctx: Ctx, _req: ScanRequest): Promise<{ runId: string; alreadyRunning: boolean }> {
  throw new Error('startScan is not built yet');
}

export async function resumeScans(_ctx: Ctx): Promise<number> {
  throw new Error('resumeScans is not built yet');
}
