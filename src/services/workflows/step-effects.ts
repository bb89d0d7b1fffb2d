// The steps inside Sluice (crm.*, access.*, event.emit, webhook.send): each applies its effect in the caller's
// transaction, the one that also records the step's success and queues the next step, so the effect happens
// exactly once per run. Messages they publish carry dedupe keys made of the step's key (src/workflows/step-keys.ts:
// the run and step ids, and the attempt of a rerun that executes the step again).
import type { Queryable } from '../../db/port.js';
import { markCheckDue } from '../../db/queries/customer-checks.js';
import { findEndpoint } from '../../db/queries/endpoints.js';
import { publishMessage } from '../../db/queries/messages.js';
import {
  changeCustomerTags,
  customerSnapshot,
  setCustomerAttributes,
  workflowAccessRow,
  writeWorkflowAccess,
  type RunRow,
} from '../../db/queries/workflows.js';
import { newId } from '../../lib/ids.js';
import { parseStepTime } from '../../workflows/times.js';
import type { Ctx } from '../context.js';
import { MAX_EMIT_DEPTH } from './workflow-runtime.js';

/** A failure of the step's own input or situation: retrying cannot help. */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly permanent = true,
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(v: unknown, field: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || x === '' || x.length > 200))
    throw new StepFailure(`${field} must render to a list of tags (strings of 1–200 characters)`);
  return list as string[];
}

function customerOf(run: RunRow): string {
  const id = run.customer?.id;
  if (!id) throw new StepFailure('this event has no customer, so there is nobody to tag, set or grant to');
  return id;
}

export async function applyInternalStep(
  ctx: Ctx,
  tx: Queryable,
  run: RunRow,
  step: { id: string; kind: string },
  input: unknown,
  /** The step's key (stepKey): `<runId>:<stepId>`, or with the attempt of the rerun executing it again. */
  key: string,
): Promise<unknown> {
  const i = isObj(input) ? input : {};
  const firstDelay = ctx.config.retrySchedule[0] ?? 0;
  const workflow = { id: run.workflowId, runId: run.id, stepId: step.id };
  switch (step.kind) {
    case 'crm.tag':
    case 'crm.untag': {
      const customerId = customerOf(run);
      const tagging = step.kind === 'crm.tag';
      const tags = strings(tagging ? i.add : i.remove, tagging ? 'add' : 'remove');
      const r = await changeCustomerTags(tx, customerId, tagging ? tags : [], tagging ? [] : tags);
      const changed = tagging ? r.added : r.removed;
      if (changed.length > 0) {
        const customer = await customerSnapshot(tx, run.workspaceId, customerId);
        await publishMessage(tx, {
          id: newId('msg', ctx.now()),
          workspaceId: run.workspaceId,
          type: tagging ? 'customer.tagged' : 'customer.untagged',
          data: {
            customer: customer ? { id: customer.id, email: customer.email, name: customer.name } : { id: customerId },
            tags: changed,
            workflow,
          },
          sourceProvider: 'workflows',
          sourceEventId: null,
          dedupeKey: `${tagging ? 'customer.tagged' : 'customer.untagged'}:${key}`,
          firstAttemptDelaySeconds: firstDelay,
        });
      }
      return { [tagging ? 'added' : 'removed']: changed, tags: r.tags };
    }
    case 'crm.set': {
      const customerId = customerOf(run);
      if (!isObj(i.attributes)) throw new StepFailure('attributes must render to an object');
      return { attributes: await setCustomerAttributes(tx, customerId, i.attributes) };
    }
    case 'access.grant':
    case 'access.revoke': {
      const customerId = customerOf(run);
      const resource = i.resource;
      if (typeof resource !== 'string' || resource === '' || resource.length > 200)
        throw new StepFailure('resource must render to a string of 1–200 characters');
      let expiresAt: Date | null = null;
      if (step.kind === 'access.grant' && i.until !== undefined && i.until !== null) {
        const t = parseStepTime(i.until);
        if (!t.ok) throw new StepFailure(`until: ${t.message}`);
        expiresAt = t.date;
      }
      const granting = step.kind === 'access.grant';
      const providerId = `${customerId}:${resource}`;
      const eventAt = run.eventAt ?? run.createdAt;
      const old = await workflowAccessRow(tx, run.workspaceId, providerId);
      // Ordered by the trigger event's provider time: an older event's step never undoes a newer one's.
      if (old?.sourceTs && old.sourceTs.getTime() > eventAt.getTime()) {
        return { applied: false, reason: `a newer event (${old.sourceTs.toISOString()}) already set this access`, status: old.status };
      }
      const sameExpiry = (old?.expiresAt?.getTime() ?? null) === (expiresAt?.getTime() ?? null);
      if ((granting && old?.status === 'active' && sameExpiry) || (!granting && (!old || old.status !== 'active'))) {
        return { applied: false, reason: 'unchanged', status: old?.status ?? 'none' };
      }
      const id = old?.id ?? newId('acc', ctx.now());
      const version = old ? Number(old.version) + 1 : 0;
      await writeWorkflowAccess(tx, {
        id,
        workspaceId: run.workspaceId,
        providerId,
        customerId,
        resource,
        status: granting ? 'active' : 'revoked',
        expiresAt: granting ? expiresAt : (old?.expiresAt ?? null),
        sourceTs: eventAt,
        version,
        sourceEventId: run.triggerEventKey,
      });
      const type = granting ? (old?.status === 'active' ? 'access.modified' : 'access.granted') : 'access.revoked';
      const at = new Date(ctx.now()).toISOString();
      await publishMessage(tx, {
        id: newId('msg', ctx.now()),
        workspaceId: run.workspaceId,
        type,
        data: {
          access: {
            id,
            customerId,
            provider: 'workflows',
            source: 'workflows',
            resource,
            status: granting ? 'active' : 'revoked',
            grantedAt: granting ? at : null,
            revokedAt: granting ? null : at,
            expiresAt: expiresAt?.toISOString() ?? null,
          },
          workflow,
        },
        sourceProvider: 'workflows',
        sourceEventId: null,
        dedupeKey: `${type}:access:workflows:${id}:${version}`,
        firstAttemptDelaySeconds: firstDelay,
      });
      await markCheckDue(tx, [customerId], new Date(ctx.now() + ctx.config.checkDebounceMs));
      return { applied: true, accessId: id, status: granting ? 'active' : 'revoked', event: type };
    }
    case 'event.emit': {
      if (run.depth >= MAX_EMIT_DEPTH)
        throw new StepFailure(
          `event.emit refused: this run is ${run.depth} runs deep in a chain of workflow runs (at most ${MAX_EMIT_DEPTH}); workflows are starting each other in a loop`,
        );
      if (typeof i.type !== 'string') throw new StepFailure('type must be an event type');
      const id = `wf:${key}`;
      const messageId = newId('msg', ctx.now());
      const created = await publishMessage(tx, {
        id: messageId,
        workspaceId: run.workspaceId,
        type: i.type,
        data: isObj(i.data) ? i.data : { value: i.data ?? null },
        sourceProvider: null,
        sourceEventId: null,
        dedupeKey: `custom:${id}`,
        firstAttemptDelaySeconds: firstDelay,
      });
      return { id, type: i.type, published: created };
    }
    case 'webhook.send': {
      if (typeof i.type !== 'string') throw new StepFailure('type must be an event type');
      let endpointIds: string[] | undefined;
      if (i.endpointId !== undefined) {
        if (typeof i.endpointId !== 'string' || !(await findEndpoint(tx, run.workspaceId, i.endpointId)))
          throw new StepFailure(`no endpoint ${JSON.stringify(i.endpointId)} in this workspace`);
        endpointIds = [i.endpointId];
      }
      const messageId = newId('msg', ctx.now());
      await publishMessage(tx, {
        id: messageId,
        workspaceId: run.workspaceId,
        type: i.type,
        data: i.data ?? {},
        sourceProvider: null,
        sourceEventId: null,
        dedupeKey: `custom:wfsend:${key}`,
        firstAttemptDelaySeconds: firstDelay,
        triggersWorkflows: false,
        ...(endpointIds ? { endpointIds } : {}),
      });
      return { type: i.type, dedupeKey: `custom:wfsend:${key}` };
    }
    default:
      throw new StepFailure(`${step.kind} is not an internal step`);
  }
}
