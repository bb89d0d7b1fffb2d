// POST …/workflows/:id/replay: starts this workflow for stored events (events or messages) it has no run for,
// and, by time range, acts on its runs of given statuses.
//
// - {eventIds}: those events; one that already has a run keeps it: the unique key (workflow, trigger event) holds
//   for replays too, so a replay never doubles a run.
// - {since, until?, status?}: first, when `status` is given, the workflow's runs created in the range with one of
//   those statuses: `failed` ones are retried (as POST …/runs/:id/retry: failed steps, frozen inputs, same keys);
//   `filtered` ones (and runs that failed at their trigger's `if`, before any step) have their trigger evaluated
//   again with the workflow's current version, and start on that version when it now passes. Then the events
//   published in the range with no run of this workflow start one, as for eventIds. Existing runs are acted on
//   first so that a run this call starts is never acted on again by it.
//
// A call handles at most `limit` runs and events (10,000), in batches of 100, each batch one short transaction;
// `nextCursor` continues where it stopped (send the same since, until and status with it).
import {
  findTriggerMessage,
  messagesWithoutRun,
  restartRun,
  retryFailedSteps,
  runOfTrigger,
  runsInRange,
  triggerMessages,
  type RunRow,
  type TriggerMessage,
  type WorkflowRow,
} from '../../db/queries/workflows.js';
import type { Queryable } from '../../db/port.js';
import { ValidationError } from '../../errors.js';
import { idFloor, newId } from '../../lib/ids.js';
import { buildContext, type ContextEventInput } from '../../workflows/context.js';
import { ExpressionError } from '../../workflows/expression.js';
import { firstStep } from '../../workflows/plan.js';
import { matchTrigger } from '../../workflows/triggers.js';
import type { Ctx } from '../context.js';
import { asObject, parseTime } from '../input.js';
import { requireWorkflow } from './read-workflows.js';
import { countStartedRuns, startRuns, type StartedRun } from './start-runs.js';
import { compiledVersion, customerOfMessage, MAX_EMIT_DEPTH } from './workflow-runtime.js';

const MAX_EVENT_IDS = 1000;
const MAX_PER_CALL = 10_000;
const BATCH = 100;
const REPLAYABLE = ['failed', 'filtered'] as const;
type Replayable = (typeof REPLAYABLE)[number];

const ID = '[a-z]+_[0-9a-z]{10,24}';
const CURSOR = new RegExp(`^(?:r:(${ID})?|e:(${ID})?)$`);

export async function replayWorkflow(ctx: Ctx, workspaceId: string, workflowId: string, input: unknown) {
  const w = await requireWorkflow(ctx, workspaceId, workflowId);
  const body = asObject(input);
  if (body.eventIds !== undefined) {
    for (const f of ['since', 'until', 'status', 'cursor', 'limit'])
      if (body[f] !== undefined) throw new ValidationError(`give eventIds or a time range (since, until, status), not both`, { field: f });
    return replayEvents(ctx, workspaceId, w, body.eventIds);
  }
  if (body.since !== undefined) return replayRange(ctx, workspaceId, w, body);
  throw new ValidationError('give eventIds (a list) or since (and until, status)', { field: 'eventIds' });
}

async function replayEvents(ctx: Ctx, workspaceId: string, w: WorkflowRow, eventIds: unknown) {
  if (!Array.isArray(eventIds) || eventIds.length === 0 || eventIds.length > MAX_EVENT_IDS || eventIds.some((e) => typeof e !== 'string'))
    throw new ValidationError(`eventIds must be a list of 1 to ${MAX_EVENT_IDS} event or message ids`, { field: 'eventIds' });
  const messages: TriggerMessage[] = [];
  const missing: string[] = [];
  for (const id of eventIds as string[]) {
    const m = await findTriggerMessage(ctx.db, workspaceId, id);
    if (m) messages.push(m);
    else missing.push(id);
  }
  const results = [];
  const all: StartedRun[] = [];
  for (const m of messages) {
    const started = await ctx.db.transaction((tx) => startRuns(ctx, tx, workspaceId, m, [w], { mode: 'replay' }));
    all.push(...started);
    const [one] = started;
    if (!one) {
      results.push({ eventId: m.eventId ?? m.id, matched: false, runId: null, created: false });
      continue;
    }
    const run = one.created ? null : await runOfTrigger(ctx.db, w.id, m.dedupeKey);
    results.push({ eventId: m.eventId ?? m.id, matched: true, runId: run?.id ?? one.runId, created: one.created });
  }
  countStartedRuns(ctx, all);
  ctx.wakeWorkflows?.();
  return { data: results, missing, started: all.filter((r) => r.created).length };
}

interface RangeResult {
  eventId: string | null;
  runId: string;
  action: 'started' | 'retried' | 'restarted' | 'skipped';
  matched?: boolean;
  created?: boolean;
  reason?: string;
}

function parseStatuses(raw: unknown): Replayable[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length === 0)
    throw new ValidationError('status must be a list of run statuses: failed and/or filtered', { field: 'status' });
  for (const s of raw) {
    if (REPLAYABLE.includes(s as Replayable)) continue;
    const why =
      s === 'running' || s === 'waiting'
        ? `${s} runs are still going`
        : s === 'succeeded'
          ? 'to execute a succeeded run again, rerun it from a step (POST …/runs/:id/rerun)'
          : 'it is not a run status';
    throw new ValidationError(`status ${JSON.stringify(s)} cannot be replayed (${why}); give failed and/or filtered`, {
      field: 'status',
    });
  }
  return [...new Set(raw as Replayable[])];
}

async function replayRange(ctx: Ctx, workspaceId: string, w: WorkflowRow, body: Record<string, unknown>) {
  const extra = Object.keys(body).filter((k) => !['since', 'until', 'status', 'cursor', 'limit'].includes(k));
  if (extra.length > 0) throw new ValidationError(`unknown field ${extra.join(', ')}`, { field: extra[0] });
  const since = parseTime(body.since, 'since')!;
  const until = parseTime(body.until, 'until') ?? new Date(ctx.now());
  if (since.getTime() >= until.getTime())
    throw new ValidationError(`since (${since.toISOString()}) must be before until (${until.toISOString()})`, { field: 'since' });
  const statuses = parseStatuses(body.status);
  let limit = MAX_PER_CALL;
  if (body.limit !== undefined) {
    if (!Number.isInteger(body.limit) || (body.limit as number) < 1 || (body.limit as number) > MAX_PER_CALL)
      throw new ValidationError(`limit must be an integer from 1 to ${MAX_PER_CALL}`, { field: 'limit' });
    limit = body.limit as number;
  }
  let phase: 'r' | 'e' = statuses.length > 0 ? 'r' : 'e';
  let after: string | null = null;
  if (body.cursor !== undefined && body.cursor !== null) {
    const m = typeof body.cursor === 'string' ? CURSOR.exec(body.cursor) : null;
    if (!m) throw new ValidationError('cursor is not one this API returned', { field: 'cursor' });
    phase = m[0].startsWith('r:') ? 'r' : 'e';
    after = m[1] ?? m[2] ?? null;
    if (phase === 'r' && statuses.length === 0)
      throw new ValidationError('this cursor continues a replay by status: send the same status again', { field: 'cursor' });
  }

  const counts = { examined: 0, started: 0, retried: 0, reevaluated: 0, restarted: 0, skipped: 0 };
  const data: RangeResult[] = [];
  const startedRuns: StartedRun[] = [];
  let budget = limit;
  let nextCursor: string | null = null;

  if (phase === 'r') {
    const current = await compiledVersion(ctx.db, w.id, w.version, w.definition);
    // Ids begin with their creation time: a lower bound on the id keeps the walk inside the range (a minute of
    // margin for a clock difference between the application and the database).
    let cursor = after ?? idFloor('wfr', since.getTime() - 60_000);
    for (;;) {
      const take = Math.min(BATCH, budget);
      if (take === 0) {
        nextCursor = `r:${cursor}`;
        break;
      }
      const runs = await runsInRange(ctx.db, { workflowId: w.id, statuses, since, until, afterId: cursor, limit: take });
      if (runs.length === 0) {
        phase = 'e';
        after = null;
        break;
      }
      await ctx.db.transaction(async (tx) => {
        for (const run of runs) data.push(await actOnRun(ctx, tx, w, current, run, counts));
      });
      budget -= runs.length;
      cursor = runs[runs.length - 1]!.id;
    }
  }

  if (phase === 'e' && nextCursor === null) {
    let cursor = after ?? idFloor('msg', since.getTime() - 60_000);
    for (;;) {
      const take = Math.min(BATCH, budget);
      if (take === 0) {
        nextCursor = `e:${cursor}`;
        break;
      }
      const messages = await messagesWithoutRun(ctx.db, { workspaceId, workflowId: w.id, since, until, afterId: cursor, limit: take });
      if (messages.length === 0) break;
      const batch = await ctx.db.transaction(async (tx) => {
        const out: { m: TriggerMessage; run: StartedRun | undefined }[] = [];
        for (const m of messages) out.push({ m, run: (await startRuns(ctx, tx, workspaceId, m, [w], { mode: 'replay' }))[0] });
        return out;
      });
      for (const { m, run } of batch) {
        counts.examined++;
        if (!run) continue; // the trigger does not match: not this workflow's event
        startedRuns.push(run);
        if (run.created) {
          counts.started++;
          data.push({ eventId: m.eventId ?? m.id, runId: run.runId, action: 'started', matched: true, created: true });
        } else {
          // Started meanwhile by the trigger inbox or another replay.
          counts.skipped++;
        }
      }
      budget -= messages.length;
      cursor = messages[messages.length - 1]!.id;
    }
  }
  countStartedRuns(ctx, startedRuns);
  ctx.wakeWorkflows?.();
  ctx.log.info({ workspaceId, workflowId: w.id, statuses, ...counts, more: nextCursor !== null }, 'workflow replayed by time range');
  return { ...counts, data, missing: [], nextCursor };
}

/** One run of a listed status: retried, or its trigger evaluated again; what was done, for the answer. */
async function actOnRun(
  ctx: Ctx,
  tx: Queryable,
  w: WorkflowRow,
  current: Awaited<ReturnType<typeof compiledVersion>>,
  run: RunRow & { stepCount: number },
  counts: { retried: number; reevaluated: number; restarted: number; skipped: number },
): Promise<RangeResult> {
  const base = { eventId: (run.triggerEvent as { id?: string }).id ?? null, runId: run.id };
  const skip = (reason: string): RangeResult => {
    counts.skipped++;
    return { ...base, action: 'skipped', reason };
  };
  if (run.status === 'failed' && run.stepCount > 0) {
    const n = await retryFailedSteps(tx, run.id);
    if (n <= 0) return skip(n < 0 ? 'the run changed meanwhile' : 'no failed step to retry');
    counts.retried++;
    return { ...base, action: 'retried' };
  }
  // Filtered, or failed at its trigger before any step: evaluated again with the current version.
  if (run.depth > MAX_EMIT_DEPTH) return skip(run.error ?? 'started too deep in an event.emit chain');
  counts.reevaluated++;
  const event = run.triggerEvent as unknown as ContextEventInput;
  if (!matchTrigger(current.definition.trigger, event)) return skip(`the trigger of version ${w.version} does not match this event`);
  const first = firstStep(current.index);
  if (!first) return skip('the workflow has no step');
  // The run starts now: its customer is read now, as for a run that starts live.
  const [message] = run.messageId ? await triggerMessages(tx, [run.messageId]) : [];
  const customer = message ? await customerOfMessage(tx, w.workspaceId, message) : run.customer;
  if (current.compiled.condition) {
    const context = buildContext({ event, customer, run: { id: run.id, attempt: run.attempt + 1, mode: 'replay' } });
    try {
      if (current.compiled.condition.evaluate(context) !== true) return skip(`still filtered by version ${w.version}`);
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      return skip(`trigger.if: ${err.message}`);
    }
  }
  const restarted = await restartRun(tx, {
    runId: run.id,
    workspaceId: w.workspaceId,
    fromStatus: run.status as 'filtered' | 'failed',
    version: w.version,
    customer,
    firstStep: { id: newId('wfs', ctx.now()), stepId: first.id, kind: first.kind },
  });
  if (!restarted) return skip('the run changed meanwhile');
  counts.restarted++;
  return { ...base, action: 'restarted' };
}
