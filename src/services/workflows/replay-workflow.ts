// POST …/workflows/:id/replay {eventIds | since, until}: starts this workflow for stored events (events or
// messages) it has no run for. An event that already has a run keeps it: the unique key (workflow, trigger
// event) holds for replays too, so a replay never doubles a run.
import { findTriggerMessage, messagesBetween, runOfTrigger, type TriggerMessage } from '../../db/queries/workflows.js';
import { ValidationError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { requireWorkflow } from './read-workflows.js';
import { startRuns } from './start-runs.js';

const MAX_REPLAY = 1000;

export async function replayWorkflow(ctx: Ctx, workspaceId: string, workflowId: string, input: unknown) {
  const w = await requireWorkflow(ctx, workspaceId, workflowId);
  const body = asObject(input);
  let messages: TriggerMessage[] = [];
  const missing: string[] = [];
  if (Array.isArray(body.eventIds)) {
    if (body.eventIds.length === 0 || body.eventIds.length > MAX_REPLAY || body.eventIds.some((e) => typeof e !== 'string'))
      throw new ValidationError(`eventIds must be a list of 1 to ${MAX_REPLAY} event or message ids`, { field: 'eventIds' });
    for (const id of body.eventIds as string[]) {
      const m = await findTriggerMessage(ctx.db, workspaceId, id);
      if (m) messages.push(m);
      else missing.push(id);
    }
  } else if (typeof body.since === 'string') {
    const since = new Date(body.since);
    const until = typeof body.until === 'string' ? new Date(body.until) : new Date(ctx.now());
    if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime()))
      throw new ValidationError('since and until must be ISO 8601 times', { field: 'since' });
    messages = await messagesBetween(ctx.db, workspaceId, since, until, MAX_REPLAY);
  } else {
    throw new ValidationError('give eventIds (a list) or since (and until)', { field: 'eventIds' });
  }
  const results = [];
  for (const m of messages) {
    const [started] = await ctx.db.transaction((tx) => startRuns(ctx, tx, workspaceId, m, [w], { mode: 'replay' }));
    const key = m.dedupeKey;
    if (!started) {
      if (Array.isArray(body.eventIds)) results.push({ eventId: m.eventId ?? m.id, matched: false, runId: null, created: false });
      continue;
    }
    const run = started.created ? null : await runOfTrigger(ctx.db, w.id, key);
    results.push({ eventId: m.eventId ?? m.id, matched: true, runId: run?.id ?? started.runId, created: started.created });
  }
  ctx.wakeWorkflows?.();
  return { data: results, missing };
}
