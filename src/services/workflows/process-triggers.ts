// A claimed batch of the trigger inbox, in one transaction: each message's runs started (start-runs.ts) and the
// inbox rows finished. Each message works under a savepoint: one that fails (a stored definition that no longer
// compiles, a bug) is rolled back alone and retried later, while the rest of the batch — other workspaces' messages
// among them — starts its runs. Only a failure of the transaction itself retries the whole batch.
import type { Queryable } from '../../db/port.js';
import {
  finishClaims,
  holdClaims,
  releaseAllClaims,
  releaseClaims,
  renewLeases,
  savepoint,
  type ClaimOutcome,
} from '../../db/queries/queue.js';
import {
  claimTriggers,
  liveWorkflows,
  TRIGGER_QUEUE,
  triggerMessages,
  type ClaimedTrigger,
  type WorkflowRow,
} from '../../db/queries/workflows.js';
import { StoreUnavailableError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { countStartedRuns, startRuns, type StartedRun } from './start-runs.js';

const RETRY_SECONDS = [1, 5, 30, 120, 600];

export function workflowLeaseSeconds(ctx: Ctx): number {
  return Math.max(ctx.config.workerLeaseSeconds, Math.ceil(ctx.config.outboundTimeoutMs / 1000) + 15);
}

export function claimWorkflowTriggers(ctx: Ctx, workerId: string, limit: number): Promise<ClaimedTrigger[]> {
  return claimTriggers(ctx.db, workerId, limit, workflowLeaseSeconds(ctx));
}

export const renewWorkflowTriggers = (ctx: Ctx, workerId: string, ids: readonly string[]) =>
  renewLeases(ctx.db, TRIGGER_QUEUE, workerId, ids, workflowLeaseSeconds(ctx));
export const giveBackWorkflowTriggers = (ctx: Ctx, workerId: string, ids: readonly string[]) =>
  releaseClaims(ctx.db, TRIGGER_QUEUE, workerId, ids);
export const releaseOrphanedWorkflowTriggers = (ctx: Ctx) => releaseAllClaims(ctx.db, TRIGGER_QUEUE);

export async function processTriggers(ctx: Ctx, workerId: string, batch: readonly ClaimedTrigger[]): Promise<void> {
  if (batch.length === 0) return;
  let started: StartedRun[] = [];
  try {
    await ctx.db.transaction(async (tx) => {
      started = [];
      const mine = await holdClaims(
        tx,
        TRIGGER_QUEUE,
        workerId,
        batch.map((t) => t.id),
      );
      const held = batch.filter((t) => mine.has(t.id));
      const messages = new Map(
        (
          await triggerMessages(
            tx,
            held.map((t) => t.messageId),
          )
        ).map((m) => [m.id, m]),
      );
      const workflows = new Map<string, WorkflowRow[]>();
      const outcomes: ClaimOutcome[] = [];
      await savepoint.open(tx);
      for (const t of held) {
        const message = messages.get(t.messageId);
        if (!message) {
          outcomes.push({ id: t.id, status: 'done', error: null, retryInSeconds: null });
          continue;
        }
        try {
          let live = workflows.get(t.workspaceId);
          if (!live) workflows.set(t.workspaceId, (live = await liveWorkflows(tx, t.workspaceId)));
          // A workflow whose stored definition does not compile does not hold up the others: their runs start now,
          // and the message is retried for it (a run already started is not started twice: one per workflow and event).
          let broken: Error | undefined;
          const runs = await startRuns(ctx, tx, t.workspaceId, message, live, { onBroken: (err) => (broken ??= err) });
          // A message that matched no workflow wrote nothing: the savepoint before it still marks the boundary, so
          // the round trip is saved (most messages — customer.tagged, access.granted, … — start nothing).
          if (runs.length > 0) await savepoint.next(tx);
          started.push(...runs);
          outcomes.push(broken ? retryLater(t, broken) : { id: t.id, status: 'done', error: null, retryInSeconds: null });
        } catch (err) {
          if (err instanceof StoreUnavailableError) throw err;
          await savepoint.rollback(tx);
          ctx.log.warn({ err, messageId: t.messageId, workspaceId: t.workspaceId }, 'workflow trigger failed; retried later');
          outcomes.push(retryLater(t, err));
        }
      }
      await savepoint.close(tx);
      await finishTriggers(tx, workerId, outcomes);
    });
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    ctx.log.warn({ err, triggers: batch.length }, 'workflow triggers failed; retried later');
    await finishTriggers(
      ctx.db,
      workerId,
      batch.map((t) => retryLater(t, err)),
    );
    return;
  }
  countStartedRuns(ctx, started);
  if (started.some((r) => r.created)) ctx.wakeWorkflows?.();
}

/** Pending again after the next delay of RETRY_SECONDS; failed once they are used up. */
function retryLater(t: ClaimedTrigger, err: unknown): ClaimOutcome {
  const retry = RETRY_SECONDS[t.attempts - 1];
  return {
    id: t.id,
    status: retry === undefined ? 'failed' : 'pending',
    error: err instanceof Error ? err.message : String(err),
    retryInSeconds: retry ?? null,
  };
}

function finishTriggers(db: Queryable, workerId: string, outcomes: Parameters<typeof finishClaims>[3]) {
  return finishClaims(db, TRIGGER_QUEUE, workerId, outcomes);
}
