// The trigger picker's choices: for each source, its objects and their actions — the same lists the definition's
// validation checks against (workflows/triggers.ts), custom ones from the workspace's published custom events.
import { triggerObjects, TRIGGER_SOURCES, type ObjectOffer, type TriggerSource } from '../../workflows/triggers.js';
import type { Ctx } from '../context.js';
import { workspaceCustomTypes } from './workflow-runtime.js';

export type TriggerCatalog = Record<TriggerSource, ObjectOffer[]>;

export const SOURCE_LABELS: Record<TriggerSource, string> = {
  stripe: 'Stripe',
  piano: 'Piano',
  sluice: 'Business events (sluice)',
  custom: 'Custom events',
};

export async function triggerCatalog(ctx: Ctx, workspaceId: string): Promise<TriggerCatalog> {
  const custom = await workspaceCustomTypes(ctx.db, workspaceId);
  return Object.fromEntries(TRIGGER_SOURCES.map((s) => [s, triggerObjects(s, custom)])) as TriggerCatalog;
}

export { TRIGGER_SOURCES };
