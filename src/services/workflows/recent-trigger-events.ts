// The stored events a dry run can be tried on: the workspace's recent events and messages that the workflow's
// trigger matches (its `if` aside: the dry run says whether it filters), or any recent one of a given type.
import { recentMessages, type RecentMessage } from '../../db/queries/workflow-activity.js';
import { ValidationError } from '../../errors.js';
import { matchTrigger, publishedType, type Trigger } from '../../workflows/triggers.js';
import type { Ctx } from '../context.js';
import { requireWorkflow } from './read-workflows.js';
import { triggerEventOf } from './workflow-runtime.js';

/** How many of the newest messages are looked through for ones the trigger matches. */
export const RECENT_WINDOW = 2000;
const TYPE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;

export interface RecentTriggerEvent {
  /** What a dry run takes as eventId: the stored event (ev_…) of a provider event, else the message (msg_…). */
  id: string;
  type: string;
  source: string;
  createdAt: string;
  matches: boolean;
}

function asTriggerEvent(m: RecentMessage) {
  return triggerEventOf({
    id: m.id,
    type: m.type,
    data: m.payloadEvent === null ? {} : { event: m.payloadEvent },
    sourceProvider: m.sourceProvider,
    sourceEventId: null,
    dedupeKey: m.dedupeKey,
    test: false,
    recovered: m.recovered,
    createdAt: m.createdAt,
    eventId: m.eventId,
  });
}

export async function recentTriggerEvents(
  ctx: Ctx,
  workspaceId: string,
  workflowId: string,
  q: { type?: string | undefined; limit?: number },
): Promise<{ data: RecentTriggerEvent[]; window: number }> {
  const w = await requireWorkflow(ctx, workspaceId, workflowId);
  const trigger = (w.definition as { trigger: Trigger }).trigger;
  const type = q.type?.trim() || undefined;
  if (type !== undefined && (type.length > 200 || !TYPE.test(type)))
    throw new ValidationError('type is one exact event type as Sluice publishes it, e.g. stripe.invoice.paid or subscription.canceled', {
      field: 'type',
    });
  const limit = q.limit ?? 50;
  // With a type: any message of that type. Without: every message of the window, kept when the trigger matches.
  const rows = await recentMessages(ctx.db, workspaceId, { type, window: RECENT_WINDOW, limit: type ? limit : RECENT_WINDOW });
  const data: RecentTriggerEvent[] = [];
  for (const m of rows) {
    const e = asTriggerEvent(m);
    if (!e) continue;
    const matches = matchTrigger(trigger, e);
    if (!type && !matches) continue;
    data.push({ id: e.id, type: publishedType(e), source: e.source, createdAt: m.createdAt.toISOString(), matches });
    if (data.length >= limit) break;
  }
  return { data, window: RECENT_WINDOW };
}
