// One claimed step of a run. Every outcome is written in a transaction that first re-checks and row-locks the
// claim (a worker whose lease ran out writes nothing), and that also queues the next step or finishes the run:
//
// - switch / if: the branch taken is the step's output; the next step is the branch's first.
// - a step whose `if` is false is `skipped`.
// - internal steps (crm.*, access.*, event.emit, webhook.send): input rendered and frozen, effect applied, success
//   recorded and next step queued, all in one transaction: exactly once.
// - external steps (http, slack, discord): input rendered and frozen first (its own transaction), the request sent
//   with no transaction open, then the attempt and outcome recorded. A crash between the send and the record sends
//   again: at least once, with the same Idempotency-Key `<runId>:<stepId>` every time (a step executed again by
//   a rerun carries the rerun's attempt: src/workflows/step-keys.ts). email the same way, with the Message-ID
//   `<runId.stepId@…>` frozen with its input (email-step.ts).
// - delay: the time to resume is frozen at the first attempt; until then the row waits in next_attempt_at (a
//   durable timer) and the run is `waiting`; no worker is held.
// A failed attempt is retried on the step's policy (408/429/5xx/no answer for external steps, honouring
// Retry-After); when retries are used up the run fails, unless the step says onError: continue.
import type { Queryable } from '../../db/port.js';
import { holdClaims, releaseAllClaims, releaseClaims, renewLeases } from '../../db/queries/queue.js';
import {
  claimSteps,
  finishStep,
  freezeStepInput,
  insertStep,
  recordStepAttempt,
  runById,
  setRunStatus,
  STEP_QUEUE,
  stepsOfRun,
  waitStepUntil,
  type ClaimedStep,
  type RunRow,
} from '../../db/queries/workflows.js';
import { StoreUnavailableError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { prefixOfText, storableJson } from '../../lib/storable-json.js';
import { findUnstorable } from '../../inbound/storable-payload.js';
import type { Sender } from '../../outbound/send.js';
import { parseDuration, type CompiledStep } from '../../workflows/definition.js';
import { ExpressionError } from '../../workflows/expression.js';
import { matchCase, redactSecrets, revealSecrets, stepAfter, stepAfterBranch, findStep, firstStep } from '../../workflows/plan.js';
import {
  buildStepRequest,
  isRetryableStatus,
  isSuccess,
  RequestInputError,
  retryAfterSeconds,
  retryDelaySeconds,
} from '../../workflows/requests.js';
import { stepKey } from '../../workflows/step-keys.js';
import { parseStepTime } from '../../workflows/times.js';
import type { Ctx } from '../context.js';
import { runEmailStep } from './email-step.js';
import { applyInternalStep, StepFailure } from './step-effects.js';
import { workflowLeaseSeconds } from './process-triggers.js';
import { compiledVersion, openSecrets, runContext, secretNames, type CompiledVersion } from './workflow-runtime.js';

const INTERNAL = new Set(['crm.tag', 'crm.untag', 'crm.set', 'access.grant', 'access.revoke', 'event.emit', 'webhook.send']);
const EXTERNAL = new Set(['http', 'slack', 'discord']);

export function claimWorkflowSteps(ctx: Ctx, workerId: string, limit: number): Promise<ClaimedStep[]> {
  return claimSteps(ctx.db, workerId, limit, workflowLeaseSeconds(ctx));
}
export const renewWorkflowSteps = (ctx: Ctx, workerId: string, ids: readonly string[]) =>
  renewLeases(ctx.db, STEP_QUEUE, workerId, ids, workflowLeaseSeconds(ctx));
export const giveBackWorkflowSteps = (ctx: Ctx, workerId: string, ids: readonly string[]) =>
  releaseClaims(ctx.db, STEP_QUEUE, workerId, ids);
export const releaseOrphanedWorkflowSteps = (ctx: Ctx) => releaseAllClaims(ctx.db, STEP_QUEUE);

/** The claim was lost between the work and its record: nothing is written. */
class ClaimLost extends Error {}

export interface StepSenders {
  /** A sender with this timeout (the outbound default when null). */
  for(timeoutMs: number | null): Sender;
}

type Outcome =
  | { kind: 'succeeded'; output: unknown; next: CompiledStep | null }
  | { kind: 'skipped'; next: CompiledStep | null }
  | { kind: 'failed'; error: string; permanent: boolean; retryAfter: number | null };

export async function runStep(ctx: Ctx, senders: StepSenders, workerId: string, claimed: ClaimedStep): Promise<void> {
  try {
    await runClaimedStep(ctx, senders, workerId, claimed);
  } catch (err) {
    if (err instanceof ClaimLost) return;
    if (err instanceof StoreUnavailableError) throw err;
    // Something unexpected (a bug, a stored definition that no longer compiles): recorded as a failed attempt.
    ctx.log.error({ err, runId: claimed.runId, stepId: claimed.stepId }, 'workflow step crashed');
    const run = await runById(ctx.db, claimed.runId);
    if (!run) return;
    const version = await compiledVersion(ctx.db, run.workflowId, run.version).catch(() => null);
    const step = version ? findStep(version.index, claimed.stepId) : null;
    await recordOutcome(ctx, workerId, claimed, run, version, step, {
      kind: 'failed',
      error: `internal error: ${err instanceof Error ? err.message : String(err)}`,
      permanent: false,
      retryAfter: null,
    }).catch((e: unknown) => {
      if (!(e instanceof ClaimLost)) throw e;
    });
  }
}

async function runClaimedStep(ctx: Ctx, senders: StepSenders, workerId: string, claimed: ClaimedStep): Promise<void> {
  const run = await runById(ctx.db, claimed.runId);
  if (!run || (run.status !== 'running' && run.status !== 'waiting')) {
    // A step of a run that is over (it failed meanwhile): left as it is, out of the queue.
    await inClaim(ctx, workerId, claimed, (tx) => finishStep(tx, { id: claimed.id, status: 'skipped', error: 'the run is over' }));
    return;
  }
  const version = await compiledVersion(ctx.db, run.workflowId, run.version);
  const step = findStep(version.index, claimed.stepId);
  if (!step) {
    await recordOutcome(ctx, workerId, claimed, run, version, null, {
      kind: 'failed',
      error: `no step ${claimed.stepId} in version ${run.version}`,
      permanent: true,
      retryAfter: null,
    });
    return;
  }
  // Trigger → first step lag: once per run, when its first step starts for the first time (not a replayed run's).
  if (run.mode === 'live' && run.attempt === 1 && claimed.attempts === 1 && claimed.input === null && run.triggeredAt) {
    if (firstStep(version.index)?.id === step.id)
      ctx.metrics.workflowTriggerLag.observe(Math.max(0, (ctx.now() - run.triggeredAt.getTime()) / 1000));
  }
  const rows = await stepsOfRun(ctx.db, run.id);
  const outputs: Record<string, { output: unknown }> = {};
  for (const r of rows)
    if (!r.superseded && (r.status === 'succeeded' || r.status === 'failed')) outputs[r.stepId] = { output: r.output ?? null };
  const names = await secretNames(ctx.db, run.workspaceId);
  const context = runContext(run, outputs, names);

  const evaluate = (f: () => unknown): { ok: true; value: unknown } | { ok: false; error: string } => {
    try {
      return { ok: true, value: f() };
    } catch (err) {
      if (err instanceof ExpressionError) return { ok: false, error: err.message };
      throw err;
    }
  };
  const fail = (error: string, permanent = true): Outcome => ({ kind: 'failed', error, permanent, retryAfter: null });

  // Control steps and conditions.
  if (step.kind === 'switch' || step.kind === 'if') {
    if (step.kind === 'switch') {
      const skip = step.condition ? evaluate(() => step.condition!.evaluate(context)) : { ok: true as const, value: true };
      if (!skip.ok) return recordOutcome(ctx, workerId, claimed, run, version, step, fail(`if: ${skip.error}`));
      if (skip.value !== true)
        return recordOutcome(ctx, workerId, claimed, run, version, step, { kind: 'skipped', next: stepAfter(version.index, step.id) });
      const on = evaluate(() => step.on!.evaluate(context));
      if (!on.ok) return recordOutcome(ctx, workerId, claimed, run, version, step, fail(`on: ${on.error}`));
      const branch = matchCase(step, on.value);
      return recordOutcome(ctx, workerId, claimed, run, version, step, {
        kind: 'succeeded',
        output: { value: on.value, branch, case: branch >= 0 ? step.cases![branch]!.when : 'default' },
        next: stepAfterBranch(version.index, step, branch),
      });
    }
    const c = evaluate(() => step.condition!.evaluate(context));
    if (!c.ok) return recordOutcome(ctx, workerId, claimed, run, version, step, fail(`if: ${c.error}`));
    const branch = c.value === true ? 0 : 1;
    return recordOutcome(ctx, workerId, claimed, run, version, step, {
      kind: 'succeeded',
      output: { branch: branch === 0 ? 'then' : 'else', value: c.value },
      next: stepAfterBranch(version.index, step, branch),
    });
  }
  if (step.condition && claimed.input === null) {
    const c = evaluate(() => step.condition!.evaluate(context));
    if (!c.ok) return recordOutcome(ctx, workerId, claimed, run, version, step, fail(`if: ${c.error}`));
    if (c.value !== true)
      return recordOutcome(ctx, workerId, claimed, run, version, step, { kind: 'skipped', next: stepAfter(version.index, step.id) });
  }

  // The input: frozen at the first attempt, the same on every retry.
  let input = claimed.input;
  if (input === null || input === undefined) {
    const rendered = step.input.render(context);
    if (!rendered.ok)
      return recordOutcome(ctx, workerId, claimed, run, version, step, fail(`${rendered.problem.path}: ${rendered.problem.message}`));
    // The input is frozen in jsonb, which cannot hold a NUL or a lone surrogate (an expression can make either:
    // '\u0000', '😀'.substring(0, 1)): a clear failure, not a database error retried as an internal one.
    const unstorable = findUnstorable(rendered.value);
    if (unstorable)
      return recordOutcome(ctx, workerId, claimed, run, version, step, fail(`the rendered input cannot be stored: ${unstorable}`));
    input = rendered.value;
  }

  if (step.kind === 'delay') {
    const i = (input ?? {}) as { for?: string; until?: string; resumeAt?: string };
    if (!i.resumeAt) {
      let at: Date | null;
      if (i.for !== undefined) {
        const ms = parseDuration(String(i.for));
        at = ms === null ? null : new Date(ctx.now() + ms);
      } else {
        // Read strictly: JavaScript's Date takes "2027-02-30" as 2 March and a time without offset in the
        // server's zone, so the wait would end on another day, or another hour on another server.
        const t = parseStepTime(i.until);
        if (!t.ok) return recordOutcome(ctx, workerId, claimed, run, version, step, fail(`delay: until ${t.message}`));
        at = t.date;
      }
      if (!at || Number.isNaN(at.getTime()))
        return recordOutcome(
          ctx,
          workerId,
          claimed,
          run,
          version,
          step,
          fail(`delay: ${JSON.stringify(i.for ?? i.until)} is not a duration or a time`),
        );
      input = { ...i, resumeAt: at.toISOString() };
    }
    const resumeAt = new Date((input as { resumeAt: string }).resumeAt);
    if (resumeAt.getTime() > ctx.now()) {
      await inClaim(ctx, workerId, claimed, async (tx) => {
        await waitStepUntil(tx, claimed.id, input, resumeAt);
        await setRunStatus(tx, run.id, 'waiting');
      });
      return;
    }
    return recordOutcome(
      ctx,
      workerId,
      claimed,
      run,
      version,
      step,
      {
        kind: 'succeeded',
        output: { resumeAt: resumeAt.toISOString(), resumedAt: new Date(ctx.now()).toISOString() },
        next: stepAfter(version.index, step.id),
      },
      input,
    );
  }

  if (INTERNAL.has(step.kind)) {
    const frozen = input;
    try {
      const written = await inClaim(ctx, workerId, claimed, async (tx) => {
        await freezeStepInput(tx, claimed.id, frozen);
        const output = await applyInternalStep(ctx, tx, run, step, frozen, stepKey(run.id, step.id, claimed.rerun));
        return writeOutcome(ctx, tx, claimed, run, version, step, { kind: 'succeeded', output, next: stepAfter(version.index, step.id) });
      });
      countOutcome(ctx, claimed, written);
      ctx.onDeliveriesQueued();
      ctx.wakeWorkflows?.();
    } catch (err) {
      if (err instanceof ClaimLost || err instanceof StoreUnavailableError) throw err;
      if (!(err instanceof StepFailure)) throw err;
      return recordOutcome(ctx, workerId, claimed, run, version, step, fail(err.message, err.permanent), input);
    }
    return;
  }

  if (EXTERNAL.has(step.kind)) {
    // Frozen before the first send: a crash after it sends exactly this again.
    const frozenInput = input;
    if (claimed.input === null) await inClaim(ctx, workerId, claimed, (tx) => freezeStepInput(tx, claimed.id, frozenInput));
    const secrets = await openSecrets(ctx, ctx.db, run.workspaceId);
    let request;
    try {
      request = buildStepRequest(step.kind, revealSecrets(input, secrets), stepKey(run.id, step.id, claimed.rerun));
    } catch (err) {
      if (!(err instanceof RequestInputError)) throw err;
      // The message may quote what the input rendered to, secrets revealed (a URL that rendered to an object).
      return recordOutcome(ctx, workerId, claimed, run, version, step, fail(redactSecrets(err.message, secrets)));
    }
    const startedAt = new Date(ctx.now());
    // The secrets are hidden in the answer before the sender cuts it to its first 4 KiB: one the cut went through
    // would no longer be recognised below, and its beginning would be kept in the run's record.
    const res = await senders
      .for(request.timeoutMs)
      .send(request.url, request.headers, request.body, request.method, undefined, (text, cut) => redactSecrets(text, secrets, cut));
    const ok = res.answered && isSuccess(request, res.status);
    // Cut between characters: half an emoji is a lone surrogate, which jsonb (the output) refuses. Redacted before
    // the cut: a secret the cut went through would otherwise be kept in part.
    const excerpt = res.answered ? prefixOfText(redactSecrets(res.excerpt, secrets), 2000) : null;
    const error = ok ? null : res.answered ? `HTTP ${res.status}` : redactSecrets(res.error, secrets);
    const attempt = {
      id: newId('wsa', ctx.now()),
      stepRowId: claimed.id,
      attempt: claimed.attempts,
      startedAt,
      durationMs: res.durationMs,
      statusCode: res.answered ? res.status : null,
      excerpt,
      error,
      ok,
    };
    let outcome: Outcome;
    if (ok) {
      let body: unknown = excerpt;
      try {
        body = excerpt ? JSON.parse(excerpt) : null;
      } catch {
        // not JSON: the text
      }
      outcome = { kind: 'succeeded', output: { status: res.status, body }, next: stepAfter(version.index, step.id) };
    } else if (res.answered) {
      outcome = {
        kind: 'failed',
        error: `${error}${excerpt ? `: ${excerpt.slice(0, 300)}` : ''}`,
        permanent: !isRetryableStatus(res.status),
        retryAfter: retryAfterSeconds(res.retryAfter, ctx.now()),
      };
    } else outcome = { kind: 'failed', error: error!, permanent: res.blocked, retryAfter: null };
    return recordOutcome(ctx, workerId, claimed, run, version, step, outcome, undefined, attempt);
  }

  if (step.kind === 'email') {
    const r = await runEmailStep(
      ctx,
      {
        runId: run.id,
        workspaceId: run.workspaceId,
        stepId: step.id,
        stepRowId: claimed.id,
        attempt: claimed.attempts,
        frozen: claimed.input !== null && claimed.input !== undefined,
        rerun: claimed.rerun ?? null,
      },
      input,
      (frozen) => inClaim(ctx, workerId, claimed, (tx) => freezeStepInput(tx, claimed.id, frozen)),
    );
    const outcome: Outcome =
      r.kind === 'sent'
        ? { kind: 'succeeded', output: r.output, next: stepAfter(version.index, step.id) }
        : { kind: 'failed', error: r.error, permanent: r.permanent, retryAfter: null };
    return recordOutcome(ctx, workerId, claimed, run, version, step, outcome, r.kind === 'failed' ? r.input : undefined, r.attempt);
  }

  // Anything not built: a clear failure.
  return recordOutcome(ctx, workerId, claimed, run, version, step, fail(`${step.kind} steps are not built yet`));
}

async function inClaim<T>(ctx: Ctx, workerId: string, claimed: ClaimedStep, work: (tx: Queryable) => Promise<T>): Promise<T> {
  return ctx.db.transaction(async (tx) => {
    if (!(await holdClaims(tx, STEP_QUEUE, workerId, [claimed.id])).has(claimed.id)) throw new ClaimLost();
    return work(tx);
  });
}

async function recordOutcome(
  ctx: Ctx,
  workerId: string,
  claimed: ClaimedStep,
  run: RunRow,
  version: CompiledVersion | null,
  step: CompiledStep | null,
  outcome: Outcome,
  input?: unknown,
  attempt?: Parameters<typeof recordStepAttempt>[1],
): Promise<void> {
  const written = await inClaim(ctx, workerId, claimed, async (tx) => {
    if (input !== undefined) await freezeStepInput(tx, claimed.id, input);
    if (attempt) await recordStepAttempt(tx, attempt);
    return writeOutcome(ctx, tx, claimed, run, version, step, outcome);
  });
  countOutcome(ctx, claimed, written);
  ctx.wakeWorkflows?.();
}

/** What an outcome did that the metrics count (once committed). */
interface Written {
  stepFailed: boolean;
  runFinished: 'succeeded' | 'failed' | null;
}

function countOutcome(ctx: Ctx, claimed: ClaimedStep, w: Written): void {
  if (w.stepFailed) ctx.metrics.workflowStepFailures.inc({ kind: claimed.kind });
  if (w.runFinished) ctx.metrics.workflowRuns.inc({ status: w.runFinished });
}

/** Records the step's outcome and moves the run on: the next step queued, or the run finished. */
async function writeOutcome(
  ctx: Ctx,
  tx: Queryable,
  claimed: ClaimedStep,
  run: RunRow,
  version: CompiledVersion | null,
  step: CompiledStep | null,
  outcome: Outcome,
): Promise<Written> {
  let next: CompiledStep | null;
  if (outcome.kind === 'failed') {
    const policy = step?.retry ?? { max: 0, backoff: 'exponential' as const };
    if (!outcome.permanent && claimed.attempts <= policy.max) {
      const delay = retryDelaySeconds(policy, claimed.attempts, ctx.config.workflowRetryBaseMs, outcome.retryAfter);
      await finishStep(tx, { id: claimed.id, status: 'pending', error: outcome.error, retryInSeconds: delay });
      return { stepFailed: true, runFinished: null };
    }
    await finishStep(tx, { id: claimed.id, status: 'failed', error: outcome.error });
    if (step?.onError !== 'continue' || !version) {
      await setRunStatus(tx, run.id, 'failed', `step ${claimed.stepId}: ${outcome.error}`);
      return { stepFailed: true, runFinished: 'failed' };
    }
    next = stepAfter(version.index, claimed.stepId);
  } else {
    // An output holds what a receiver or an SMTP server answered (a JSON \u0000 escape, …): made storable, or the
    // commit would fail and the step be retried as an internal error, sending its request again.
    await finishStep(tx, {
      id: claimed.id,
      status: outcome.kind,
      output: outcome.kind === 'succeeded' ? storableJson(outcome.output) : null,
    });
    next = outcome.next;
  }
  const stepFailed = outcome.kind === 'failed';
  if (next) {
    // Steps reached after a rerun belong to it: their keys carry its attempt, so they act again too.
    await insertStep(tx, {
      id: newId('wfs', ctx.now()),
      runId: run.id,
      workspaceId: run.workspaceId,
      stepId: next.id,
      kind: next.kind,
      rerun: run.rerun,
    });
    if (run.status !== 'running') await setRunStatus(tx, run.id, 'running');
    return { stepFailed, runFinished: null };
  }
  await setRunStatus(tx, run.id, 'succeeded');
  return { stepFailed, runFinished: 'succeeded' };
}
