// What the workflow verbs share: compiled versions (cached: a version never changes), how a published message is
// seen as a trigger event, whose customer it is, the workspace's secrets, and the evaluation context of a run.
import type { Queryable } from '../../db/port.js';
import {
  customerIdOfEvent,
  customerSnapshot,
  resolveCustomer,
  sealedSecrets,
  workflowVersion,
  type CustomerSnapshot,
  type RunRow,
  type TriggerMessage,
} from '../../db/queries/workflows.js';
import { customTypesOf } from '../../db/queries/messages.js';
import { buildContext, type ContextEventInput, type EvaluationContext } from '../../workflows/context.js';
import { validateDefinition, type CompiledWorkflow, type WorkflowDefinition } from '../../workflows/definition.js';
import { indexSteps, secretMarkers, type StepIndex } from '../../workflows/plan.js';
import type { Ctx } from '../context.js';

/** Chains of runs deeper than this fail: a loop of workflows starting each other (through event.emit, or through the
 *  customer.* and access.* events their steps publish) ends here. */
export const MAX_EMIT_DEPTH = 8;

export interface CompiledVersion {
  definition: WorkflowDefinition;
  compiled: CompiledWorkflow;
  index: StepIndex;
}

const cache = new Map<string, CompiledVersion>();
const CACHE_MAX = 500;

/** A stored definition that does not compile any more (a rule of a later release it breaks, a hand-edited row). */
export class StoredDefinitionError extends Error {}

/** A stored definition compiled again (it was valid when saved; a custom type that went away is not checked). */
export function compileStored(definition: unknown): CompiledVersion {
  const r = validateDefinition(definition, { customTypes: customTypesOfDefinition(definition), stored: true });
  if (!r.ok)
    throw new StoredDefinitionError(
      `a stored workflow definition no longer validates: ${r.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
  return { definition: r.definition, compiled: r.compiled, index: indexSteps(r.compiled) };
}

function customTypesOfDefinition(definition: unknown): string[] {
  const t = (definition as { trigger?: { source?: string; object?: string; actions?: string[] } } | null)?.trigger;
  if (t?.source !== 'custom' || typeof t.object !== 'string') return [];
  return (t.actions ?? ['x']).map((a) => `${t.object}.${a}`);
}

export async function compiledVersion(db: Queryable, workflowId: string, version: number, definition?: unknown): Promise<CompiledVersion> {
  const key = `${workflowId}:${version}`;
  let c = cache.get(key);
  if (!c) {
    const stored = definition ?? (await workflowVersion(db, workflowId, version));
    c = compileStored(stored);
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(key, c);
  }
  return c;
}

/** The custom event types of a workspace, for validating custom triggers. */
export function workspaceCustomTypes(db: Queryable, workspaceId: string): Promise<string[]> {
  return customTypesOf(db, workspaceId);
}

/** How a published message is seen by triggers and expressions; null for a message that starts nothing. */
export function triggerEventOf(m: TriggerMessage): (ContextEventInput & { key: string }) | null {
  if (m.test) return null;
  // Sent by a webhook.send step to endpoints only (published with triggersWorkflows: false): a replay does not
  // start runs for it either.
  if (m.dedupeKey.startsWith('custom:wfsend:')) return null;
  const base = { id: m.eventId ?? m.id, payload: m.data, recovered: m.recovered === true, key: m.dedupeKey };
  if (m.dedupeKey.startsWith('raw:') && (m.sourceProvider === 'stripe' || m.sourceProvider === 'piano')) {
    const prefix = `${m.sourceProvider}.`;
    if (!m.type.startsWith(prefix)) return null;
    return { ...base, source: m.sourceProvider, type: m.type.slice(prefix.length) };
  }
  if (m.dedupeKey.startsWith('custom:')) return { ...base, source: 'custom', type: m.type, created: m.createdAt };
  return { ...base, source: 'sluice', type: m.type, created: m.createdAt };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The customer a message is about: linked to its stored event, named in its data (business events carry
 *  `customer.id` or `<object>.customerId`; custom events may carry `customerId` or `customer`). */
export async function customerOfMessage(db: Queryable, workspaceId: string, m: TriggerMessage): Promise<CustomerSnapshot | null> {
  let id: string | undefined;
  if (m.eventId) id = await customerIdOfEvent(db, m.eventId);
  else if (isObj(m.data)) {
    const d = m.data;
    const refs: unknown[] = [d.customerId, isObj(d.customer) ? d.customer.id : d.customer];
    for (const v of Object.values(d)) if (isObj(v)) refs.push(v.customerId);
    for (const ref of refs) {
      if (typeof ref !== 'string' || ref === '') continue;
      id = await resolveCustomer(db, workspaceId, ref);
      if (id) break;
    }
  }
  if (!id) return null;
  return (await customerSnapshot(db, workspaceId, id)) ?? null;
}

/** The workspace's secrets, opened. */
export async function openSecrets(ctx: Ctx, db: Queryable, workspaceId: string): Promise<Record<string, string>> {
  const rows = await sealedSecrets(db, workspaceId);
  return Object.fromEntries(rows.map((r) => [r.name, ctx.secretBox.open(r.sealed)]));
}

export async function secretNames(db: Queryable, workspaceId: string): Promise<string[]> {
  return (await sealedSecrets(db, workspaceId)).map((r) => r.name);
}

/** The context of a run's step: secrets as markers (rendered inputs never hold their values). */
export function runContext(run: RunRow, steps: Record<string, { output: unknown }>, secrets: readonly string[]): EvaluationContext {
  return buildContext({
    event: run.triggerEvent as unknown as ContextEventInput,
    customer: run.customer,
    steps,
    run: { id: run.id, attempt: run.attempt, mode: run.mode as 'live' },
    secrets: secretMarkers(secrets),
  });
}

/** Provider time of a trigger event (access steps are ordered by it): Stripe's `created`, else the context's. */
export function eventTime(context: EvaluationContext, fallback: Date): Date {
  const t = context.trigger.created ? new Date(context.trigger.created) : null;
  return t && !Number.isNaN(t.getTime()) ? t : fallback;
}
