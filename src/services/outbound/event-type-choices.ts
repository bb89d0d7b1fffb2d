// The event types a person picks from when filtering an endpoint: the catalog's business types (with what each
// means), whole-provider patterns, and the custom types this workspace has published.
import { BUSINESS_EVENTS } from '../../catalog/index.js';
import { customTypesOf } from '../../db/queries/messages.js';
import type { Ctx } from '../context.js';

export interface TypeChoice {
  type: string;
  description: string;
}

export async function eventTypeChoices(
  ctx: Ctx,
  workspaceId: string,
): Promise<{ business: TypeChoice[]; providers: TypeChoice[]; custom: TypeChoice[] }> {
  const custom = (await customTypesOf(ctx.db, workspaceId)).sort().slice(0, 200);
  return {
    business: Object.entries(BUSINESS_EVENTS).map(([type, description]) => ({ type, description })),
    providers: [
      { type: 'stripe.*', description: 'every raw Stripe event, as Stripe sent it' },
      { type: 'piano.*', description: 'every raw Piano event, as Piano sent it' },
    ],
    custom: custom.map((type) => ({ type, description: 'a custom event published in this workspace' })),
  };
}
