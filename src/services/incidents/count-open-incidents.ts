// The open-incident count the console shows on its "Incidents" navigation item, on every page of a workspace.
import { countOpenIncidents as countOpen } from '../../db/queries/console-nav.js';
import type { Ctx } from '../context.js';

/** Counting stops here: the badge reads "99+" past it, and a bounded count costs the same on every page. */
export const OPEN_INCIDENTS_CAP = 100;

export async function countOpenIncidents(ctx: Ctx, workspaceId: string): Promise<number> {
  return countOpen(ctx.db, workspaceId, OPEN_INCIDENTS_CAP);
}
