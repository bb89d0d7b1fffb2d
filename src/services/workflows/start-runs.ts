// Starts the runs a published message owes, inside the caller's transaction: for each live workflow whose
// trigger matches, one run keyed by (workflow, the message's dedupe key) — a redelivered, replayed or recovered
// event publishes no new message, and a second start of the same one (another instance, a replay) finds the key
// taken: never a second run. The trigger's `if` is evaluated here; false gives a `filtered` run. It writes only for
// the workflows it returns (process-triggers.ts relies on that: an empty answer means nothing was written).
import type { Queryable } from '../../db/port.js';
import { insertRun, providerEventTime, runDepth, type TriggerMessage, type WorkflowRow } from '../../db/queries/workflows.js';
import { newId } from '../../lib/ids.js';
import { buildContext } from '../../workflows/context.js';
import { ExpressionError } from '../../workflows/expression.js';
import { firstStep } from '../../workflows/plan.js';
import { matchTrigger } from '../../workflows/triggers.js';
import type { Ctx } from '../context.js';
import {
  compiledVersion,
  customerOfMessage,
  MAX_EMIT_DEPTH,
  StoredDefinitionError,
  triggerEventOf,
  type CompiledVersion,
} from './workflow-runtime.js';

export interface StartedRun {
  runId: string;
  workflowId: string;
  status: string;
  created: boolean;
}

export async function startRuns(
  ctx: Ctx,
  tx: Queryable,
  workspaceId: string,
  message: TriggerMessage,
  workflows: readonly WorkflowRow[],
  o: {
    mode?: 'live' | 'replay';
    force?: boolean;
    /** Given: a workflow whose stored definition does not compile is passed here and the others still start
     *  (otherwise the error is thrown). */
    onBroken?: (err: StoredDefinitionError, workflowId: string) => void;
  } = {},
): Promise<StartedRun[]> {
  const event = triggerEventOf(message);
  if (!event) return [];
  const started: StartedRun[] = [];
  let customer: Awaited<ReturnType<typeof customerOfMessage>> | undefined;
  let depth: number | undefined;
  let eventAt: Date | undefined;
  for (const w of workflows) {
    let version: CompiledVersion;
    try {
      version = await compiledVersion(tx, w.id, w.version, w.definition);
    } catch (err) {
      // One workflow whose stored definition does not compile must not hold up the message's other runs (the
      // message failed as a whole, over and over, and no workflow of the workspace started on it).
      if (!(err instanceof StoredDefinitionError) || !o.onBroken) throw err;
      ctx.log.error(
        { err, workflowId: w.id, version: w.version, messageId: message.id },
        'workflow not started: its definition does not compile',
      );
      o.onBroken(err, w.id);
      continue;
    }
    if (!o.force && !matchTrigger(version.definition.trigger, event)) continue;
    customer ??= await customerOfMessage(tx, workspaceId, message);
    if (depth === undefined) {
      const parent = parentRunOf(message);
      depth = parent ? ((await runDepth(tx, parent)) ?? 0) + 1 : 0;
    }
    if (eventAt === undefined) {
      eventAt =
        (message.sourceProvider && message.sourceEventId
          ? await providerEventTime(tx, workspaceId, message.sourceProvider, message.sourceEventId)
          : undefined) ?? message.createdAt;
    }
    const runId = newId('wfr', ctx.now());
    let status: 'running' | 'filtered' | 'failed' = 'running';
    let error: string | null = null;
    if (depth > MAX_EMIT_DEPTH) {
      status = 'failed';
      error = `started by a chain of ${depth} workflow runs (at most ${MAX_EMIT_DEPTH}): workflows are starting each other in a loop, through event.emit or the events their steps publish`;
    } else if (version.compiled.condition) {
      const context = buildContext({ event, customer, run: { id: runId, attempt: 1, mode: o.mode ?? 'live' } });
      try {
        if (version.compiled.condition.evaluate(context) !== true) status = 'filtered';
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        status = 'failed';
        error = `trigger.if: ${err.message}`;
      }
    }
    const first = status === 'running' ? firstStep(version.index) : null;
    if (status === 'running' && !first) status = 'filtered';
    const { key, ...triggerEvent } = event;
    const created = await insertRun(tx, {
      id: runId,
      workspaceId,
      workflowId: w.id,
      version: w.version,
      triggerEventKey: key,
      messageId: message.id,
      status,
      mode: o.mode ?? 'live',
      depth,
      triggerEvent,
      customer,
      eventAt,
      triggeredAt: message.createdAt,
      error,
      firstStep: first ? { id: newId('wfs', ctx.now()), stepId: first.id, kind: first.kind } : null,
    });
    started.push({ runId, workflowId: w.id, status, created });
  }
  return started;
}

/** Counts the runs that were recorded finished when they started (filtered, or failed at their trigger); call it
 *  once the transaction that started them committed. */
export function countStartedRuns(ctx: Ctx, runs: readonly StartedRun[]): void {
  for (const r of runs)
    if (r.created && (r.status === 'filtered' || r.status === 'failed')) ctx.metrics.workflowRuns.inc({ status: r.status });
}

/**
 * The run whose step published this message, if any: an event.emit (dedupe key `custom:wf:<runId>:<stepId>`), or
 * what crm.* and access.* steps publish (customer.tagged, access.granted, …: source `workflows`, `data.workflow.runId`).
 * A run started by it is one level deeper, so workflows that start each other through any of these — not only
 * through emits (a tag that starts an untag that starts the tag again) — stop at the depth limit.
 */
function parentRunOf(message: TriggerMessage): string | undefined {
  const emitted = /^custom:wf:(wfr_[A-Za-z0-9]+):/.exec(message.dedupeKey)?.[1];
  if (emitted) return emitted;
  if (message.sourceProvider !== 'workflows') return undefined;
  const workflow = (message.data as { workflow?: { runId?: unknown } } | null)?.workflow;
  return typeof workflow?.runId === 'string' ? workflow.runId : undefined;
}
