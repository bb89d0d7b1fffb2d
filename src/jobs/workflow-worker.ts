// The workflow worker: two queue runners over the workflow tables. The trigger runner works off the trigger inbox
// in batches (a message's runs started in one transaction); the step runner works off due steps one each, at most
// SLUICE_WORKFLOW_CONCURRENCY in flight (an http step's request holds only its own slot). Any number of processes
// share both queues (claims skip locked rows). Publishing a message wakes the trigger runner, as it wakes the
// delivery worker.
import { createAddressPolicy } from '../outbound/address-policy.js';
import { createSender } from '../outbound/send.js';
import { DEFINITION_LIMITS } from '../workflows/definition.js';
import type { Ctx } from '../services/context.js';
import {
  claimWorkflowTriggers,
  giveBackWorkflowTriggers,
  processTriggers,
  renewWorkflowTriggers,
  workflowLeaseSeconds,
} from '../services/workflows/process-triggers.js';
import {
  claimWorkflowSteps,
  giveBackWorkflowSteps,
  renewWorkflowSteps,
  runStep,
  type StepSenders,
} from '../services/workflows/run-step.js';
import { startQueueRunner, type QueueRunner } from './queue-runner.js';

export type WorkflowWorker = Pick<QueueRunner, 'stop'> & { wake(): void };

/** One sender for every http step, each attempt with its step's timeout: a sender per distinct timeoutMs kept a
 *  pool set and a timer for each value any workflow ever used. */
function createStepSenders(ctx: Ctx): StepSenders & { close(): void } {
  const policy = createAddressPolicy(ctx.config.outboundAllow, { allowHttp: ctx.config.outboundAllowHttp });
  const sender = createSender(policy, { timeoutMs: Math.max(DEFINITION_LIMITS.maxTimeoutMs, ctx.config.outboundTimeoutMs) });
  return {
    for(timeoutMs) {
      const t = timeoutMs ?? ctx.config.outboundTimeoutMs;
      return {
        send: (url, headers, body, method, _timeoutMs, redact) => sender.send(url, headers, body, method, t, redact),
        close: () => undefined,
      };
    },
    close() {
      sender.close();
    },
  };
}

export function startWorkflowWorker(ctx: Ctx): WorkflowWorker {
  const senders = createStepSenders(ctx);
  const renewEveryMs = (workflowLeaseSeconds(ctx) * 1000) / 3;
  const triggers = startQueueRunner({
    name: 'workflow_triggers',
    idPrefix: 'wtw',
    lanes: 1,
    batchSize: 50,
    pollMs: ctx.config.workerPollMs,
    renewEveryMs,
    log: ctx.log,
    now: ctx.now,
    claim: (workerId, limit) => claimWorkflowTriggers(ctx, workerId, limit),
    renew: (workerId, ids) => renewWorkflowTriggers(ctx, workerId, ids),
    release: (workerId, ids) => giveBackWorkflowTriggers(ctx, workerId, ids),
    work: { mode: 'batch', run: (workerId, batch) => processTriggers(ctx, workerId, batch) },
    releaseAtDeadline: false,
  });
  const steps = startQueueRunner({
    name: 'workflow_steps',
    idPrefix: 'wsw',
    lanes: ctx.config.workflowConcurrency,
    batchSize: ctx.config.workflowConcurrency,
    pollMs: ctx.config.workerPollMs,
    renewEveryMs,
    log: ctx.log,
    now: ctx.now,
    claim: (workerId, limit) => claimWorkflowSteps(ctx, workerId, limit),
    renew: (workerId, ids) => renewWorkflowSteps(ctx, workerId, ids),
    release: (workerId, ids) => giveBackWorkflowSteps(ctx, workerId, ids),
    work: { mode: 'each', run: (workerId, step) => runStep(ctx, senders, workerId, step) },
    // Nothing holds a step locked while its request is out: what is left at the deadline is given back.
    releaseAtDeadline: true,
  });
  const previous = ctx.onDeliveriesQueued;
  ctx.onDeliveriesQueued = () => {
    previous();
    triggers.wake();
  };
  ctx.wakeWorkflows = () => {
    triggers.wake();
    steps.wake();
  };
  return {
    wake: ctx.wakeWorkflows,
    async stop(timeoutMs) {
      await Promise.all([triggers.stop(timeoutMs), steps.stop(timeoutMs)]);
      senders.close();
    },
  };
}
