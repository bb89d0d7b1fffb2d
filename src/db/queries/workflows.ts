// Workflows: definitions and their immutable versions, the trigger inbox, runs, step rows (the step queue),
// attempts, workspace secrets, and the customer tags and attributes crm.* steps write.
import type { Queryable } from '../port.js';
import { claimBatch, type QueueDef } from './queue.js';
import { payloadOf } from './event-payload.js';

export interface WorkflowRow {
  id: string;
  workspaceId: string;
  name: string;
  enabled: boolean;
  version: number;
  definition: unknown;
  createdAt: Date;
  updatedAt: Date;
}

const WORKFLOW_COLUMNS = `w.id, w.workspace_id AS "workspaceId", w.name, w.enabled, w.version, v.definition,
  w.created_at AS "createdAt", w.updated_at AS "updatedAt"`;

export async function insertWorkflow(
  db: Queryable,
  w: { id: string; workspaceId: string; name: string; enabled: boolean; definition: unknown },
): Promise<void> {
  await db.query('INSERT INTO workflows (id, workspace_id, name, enabled, version) VALUES ($1, $2, $3, $4, 1)', [
    w.id,
    w.workspaceId,
    w.name,
    w.enabled,
  ]);
  await db.query('INSERT INTO workflow_versions (workflow_id, version, definition) VALUES ($1, 1, $2)', [
    w.id,
    JSON.stringify(w.definition),
  ]);
}

/** A new version (the definition changed) or only the name/enabled flag; the workflow row locked by the caller. */
export async function updateWorkflow(
  db: Queryable,
  w: { id: string; name: string; enabled: boolean; definition: unknown; newVersion: number | null },
): Promise<void> {
  if (w.newVersion !== null) {
    await db.query('INSERT INTO workflow_versions (workflow_id, version, definition) VALUES ($1, $2, $3)', [
      w.id,
      w.newVersion,
      JSON.stringify(w.definition),
    ]);
  }
  await db.query('UPDATE workflows SET name = $2, enabled = $3, version = COALESCE($4, version), updated_at = now() WHERE id = $1', [
    w.id,
    w.name,
    w.enabled,
    w.newVersion,
  ]);
}

export async function findWorkflow(db: Queryable, workspaceId: string, id: string, lock = false): Promise<WorkflowRow | undefined> {
  const { rows } = await db.query<WorkflowRow>(
    `SELECT ${WORKFLOW_COLUMNS} FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version
     WHERE w.workspace_id = $1 AND w.id = $2 AND w.deleted_at IS NULL ${lock ? 'FOR UPDATE OF w' : ''}`,
    [workspaceId, id],
  );
  return rows[0];
}

export async function listWorkflows(db: Queryable, workspaceId: string): Promise<(WorkflowRow & { lastRunStatus: string | null })[]> {
  const { rows } = await db.query<WorkflowRow & { lastRunStatus: string | null }>(
    `SELECT ${WORKFLOW_COLUMNS},
       (SELECT r.status FROM workflow_runs r WHERE r.workflow_id = w.id ORDER BY r.id DESC LIMIT 1) AS "lastRunStatus"
     FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version
     WHERE w.workspace_id = $1 AND w.deleted_at IS NULL ORDER BY w.id DESC LIMIT 1000`,
    [workspaceId],
  );
  return rows;
}

/** The live (enabled, not deleted) workflows of a workspace with their current definitions. */
export async function liveWorkflows(db: Queryable, workspaceId: string): Promise<WorkflowRow[]> {
  const { rows } = await db.query<WorkflowRow>(
    `SELECT ${WORKFLOW_COLUMNS} FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version
     WHERE w.workspace_id = $1 AND w.enabled AND w.deleted_at IS NULL ORDER BY w.id`,
    [workspaceId],
  );
  return rows;
}

export async function deleteWorkflow(db: Queryable, workspaceId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE workflows SET deleted_at = now(), enabled = false, updated_at = now() WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL',
    [workspaceId, id],
  );
  return rowCount === 1;
}

export async function workflowVersions(
  db: Queryable,
  workflowId: string,
): Promise<{ version: number; definition: unknown; createdAt: Date }[]> {
  const { rows } = await db.query<{ version: number; definition: unknown; createdAt: Date }>(
    'SELECT version, definition, created_at AS "createdAt" FROM workflow_versions WHERE workflow_id = $1 ORDER BY version DESC',
    [workflowId],
  );
  return rows;
}

export async function workflowVersion(db: Queryable, workflowId: string, version: number): Promise<unknown> {
  const { rows } = await db.query<{ definition: unknown }>(
    'SELECT definition FROM workflow_versions WHERE workflow_id = $1 AND version = $2',
    [workflowId, version],
  );
  return rows[0]?.definition;
}

// ---- the trigger inbox ----

export const TRIGGER_QUEUE: QueueDef = {
  table: 'workflow_triggers',
  waiting: 'pending',
  finishedAt: 'finished_at',
  error: 'last_error',
  errorMaxBytes: 4000,
  returning: `q.id, q.workspace_id AS "workspaceId", q.message_id AS "messageId", q.attempts`,
  plannedColumns: ['status', 'next_attempt_at', 'locked_until'],
};

export interface ClaimedTrigger {
  id: string;
  workspaceId: string;
  messageId: string;
  attempts: number;
}

export function claimTriggers(db: Queryable, workerId: string, limit: number, leaseSeconds: number): Promise<ClaimedTrigger[]> {
  return claimBatch<ClaimedTrigger>(db, TRIGGER_QUEUE, { workerId, limit, leaseSeconds });
}

export interface TriggerMessage {
  id: string;
  type: string;
  data: unknown;
  sourceProvider: string | null;
  sourceEventId: string | null;
  dedupeKey: string;
  test: boolean;
  recovered: boolean;
  createdAt: Date;
  /** For raw provider messages: the stored event's received time and provider time. */
  eventId: string | null;
}

const MESSAGE_COLUMNS = `m.id, m.type, m.data, m.source_provider AS "sourceProvider", m.source_event_id AS "sourceEventId",
  m.dedupe_key AS "dedupeKey", m.test, m.recovered, m.created_at AS "createdAt",
  CASE WHEN m.dedupe_key LIKE 'raw:%' THEN substr(m.dedupe_key, 5) END AS "eventId"`;

export async function triggerMessages(db: Queryable, ids: readonly string[]): Promise<TriggerMessage[]> {
  const { rows } = await db.query<TriggerMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages_with_data m WHERE m.id = ANY($1::text[])`, [
    ids,
  ]);
  return rows;
}

/** A message by id, or the raw message of a stored event (by the event's id). */
export async function findTriggerMessage(db: Queryable, workspaceId: string, id: string): Promise<TriggerMessage | undefined> {
  const { rows } = await db.query<TriggerMessage>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages_with_data m WHERE m.workspace_id = $1 AND (m.id = $2 OR m.dedupe_key = 'raw:' || $2) LIMIT 1`,
    [workspaceId, id],
  );
  return rows[0];
}

// ---- customers ----

export interface CustomerSnapshot {
  id: string;
  email: string | null;
  name: string | null;
  tags: string[];
  attributes: Record<string, unknown>;
  access: unknown[];
}

/** The customers linked to a stored event (raw provider messages). */
export async function customerIdOfEvent(db: Queryable, eventId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT ce.customer_id AS id FROM customer_events ce JOIN customers c ON c.id = ce.customer_id
     WHERE ce.event_id = $1 ORDER BY c.stub, c.id LIMIT 1`,
    [eventId],
  );
  return rows[0]?.id;
}

/** A customer by Sluice id or provider id. */
export async function resolveCustomer(db: Queryable, workspaceId: string, ref: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM customers WHERE workspace_id = $1 AND (id = $2 OR provider_id = $2) ORDER BY (id = $2) DESC, stub, id LIMIT 1`,
    [workspaceId, ref],
  );
  return rows[0]?.id;
}

export async function customerSnapshot(db: Queryable, workspaceId: string, id: string): Promise<CustomerSnapshot | undefined> {
  const { rows } = await db.query<CustomerSnapshot>(
    `SELECT c.id, c.email, c.name, c.tags, c.attributes,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('resource', a.resource, 'provider', a.provider, 'status', a.status,
                  'expiresAt', a.expires_at) ORDER BY a.resource)
                 FROM access a WHERE a.customer_id = c.id AND NOT a.deleted), '[]'::jsonb) AS access
     FROM customers c WHERE c.workspace_id = $1 AND c.id = $2`,
    [workspaceId, id],
  );
  return rows[0];
}

/** Adds or removes tags; returns the tags actually added/removed (locks the customer row). */
export async function changeCustomerTags(
  db: Queryable,
  customerId: string,
  add: readonly string[],
  remove: readonly string[],
): Promise<{ added: string[]; removed: string[]; tags: string[] }> {
  const { rows } = await db.query<{ tags: string[] }>('SELECT tags FROM customers WHERE id = $1 FOR UPDATE', [customerId]);
  const before = rows[0]?.tags ?? [];
  const added = [...new Set(add)].filter((t) => !before.includes(t));
  const removed = [...new Set(remove)].filter((t) => before.includes(t));
  const tags = [...before.filter((t) => !removed.includes(t)), ...added];
  if (added.length || removed.length) {
    await db.query('UPDATE customers SET tags = $2, updated_at = now() WHERE id = $1', [customerId, tags]);
  }
  return { added, removed, tags };
}

export async function setCustomerAttributes(db: Queryable, customerId: string, attributes: Record<string, unknown>): Promise<unknown> {
  const { rows } = await db.query<{ attributes: unknown }>(
    'UPDATE customers SET attributes = attributes || $2::jsonb, updated_at = now() WHERE id = $1 RETURNING attributes',
    [customerId, JSON.stringify(attributes)],
  );
  return rows[0]?.attributes;
}

// ---- access granted by workflows ----

export interface WorkflowAccessRow {
  id: string;
  status: string;
  sourceTs: Date | null;
  expiresAt: Date | null;
  version: number;
}

/** The workflows access row of (customer, resource), locked. */
export async function workflowAccessRow(db: Queryable, workspaceId: string, providerId: string): Promise<WorkflowAccessRow | undefined> {
  const { rows } = await db.query<WorkflowAccessRow>(
    `SELECT id, status, source_ts AS "sourceTs", expires_at AS "expiresAt", source_rank AS version
     FROM access WHERE workspace_id = $1 AND provider = 'workflows' AND provider_id = $2 FOR UPDATE`,
    [workspaceId, providerId],
  );
  return rows[0];
}

export async function writeWorkflowAccess(
  db: Queryable,
  a: {
    id: string;
    workspaceId: string;
    providerId: string;
    customerId: string;
    resource: string;
    status: 'active' | 'revoked';
    expiresAt: Date | null;
    sourceTs: Date;
    version: number;
    sourceEventId: string | null;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO access (id, workspace_id, provider, provider_id, customer_id, resource, status, granted_at, revoked_at, expires_at,
                         source_ts, source_rank, source_event_id)
     VALUES ($1, $2, 'workflows', $3, $4, $5, $6, CASE WHEN $6 = 'active' THEN now() END, CASE WHEN $6 = 'revoked' THEN now() END,
             $7, $8, $9, $10)
     ON CONFLICT (workspace_id, provider, provider_id) DO UPDATE SET
       status = EXCLUDED.status, customer_id = EXCLUDED.customer_id,
       granted_at = CASE WHEN EXCLUDED.status = 'active' THEN now() ELSE access.granted_at END,
       revoked_at = CASE WHEN EXCLUDED.status = 'revoked' THEN now() ELSE NULL END,
       expires_at = EXCLUDED.expires_at, source_ts = EXCLUDED.source_ts, source_rank = EXCLUDED.source_rank,
       source_event_id = EXCLUDED.source_event_id, updated_at = now()`,
    [a.id, a.workspaceId, a.providerId, a.customerId, a.resource, a.status, a.expiresAt, a.sourceTs, a.version, a.sourceEventId],
  );
}

// ---- runs ----

export interface NewRun {
  id: string;
  workspaceId: string;
  workflowId: string;
  version: number;
  triggerEventKey: string;
  messageId: string | null;
  status: 'filtered' | 'running' | 'failed';
  mode: string;
  depth: number;
  triggerEvent: unknown;
  customer: unknown;
  eventAt: Date | null;
  /** When the message that started the run was published. */
  triggeredAt: Date | null;
  error: string | null;
  /** The first step to queue (null: none, e.g. a filtered run). */
  firstStep: { id: string; stepId: string; kind: string } | null;
}

/** Inserts the run unless one exists for (workflow, trigger event); queues its first step. True when inserted. */
export async function insertRun(db: Queryable, r: NewRun): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO workflow_runs (id, workspace_id, workflow_id, version, trigger_event_key, message_id, status, mode, depth,
                                trigger_event, customer, event_at, error, finished_at, triggered_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CASE WHEN $7 IN ('filtered', 'failed') THEN now() END, $14)
     ON CONFLICT (workflow_id, trigger_event_key) DO NOTHING`,
    [
      r.id,
      r.workspaceId,
      r.workflowId,
      r.version,
      r.triggerEventKey,
      r.messageId,
      r.status,
      r.mode,
      r.depth,
      JSON.stringify(r.triggerEvent),
      r.customer === null ? null : JSON.stringify(r.customer),
      r.eventAt,
      r.error,
      r.triggeredAt,
    ],
  );
  if (rowCount !== 1) return false;
  if (r.firstStep) await insertStep(db, { ...r.firstStep, runId: r.id, workspaceId: r.workspaceId });
  return true;
}

/** Queues a step of a run unless the run has a current row for it; `rerun` is the run's latest rerun (null: none). */
export async function insertStep(
  db: Queryable,
  s: { id: string; runId: string; workspaceId: string; stepId: string; kind: string; rerun?: number | null },
): Promise<void> {
  await db.query(
    `INSERT INTO workflow_steps (id, run_id, workspace_id, step_id, kind, rerun) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (run_id, step_id) WHERE superseded_at IS NULL DO NOTHING`,
    [s.id, s.runId, s.workspaceId, s.stepId, s.kind, s.rerun ?? null],
  );
}

export interface RunRow {
  id: string;
  workspaceId: string;
  workflowId: string;
  version: number;
  triggerEventKey: string;
  messageId: string | null;
  status: string;
  mode: string;
  depth: number;
  triggerEvent: Record<string, unknown>;
  customer: CustomerSnapshot | null;
  eventAt: Date | null;
  error: string | null;
  attempt: number;
  /** The attempt of the latest rerun from a step (null: never rerun). */
  rerun: number | null;
  triggeredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

const RUN_COLUMNS = `r.id, r.workspace_id AS "workspaceId", r.workflow_id AS "workflowId", r.version,
  r.trigger_event_key AS "triggerEventKey", r.message_id AS "messageId", r.status, r.mode, r.depth,
  r.trigger_event AS "triggerEvent", r.customer, r.event_at AS "eventAt", r.error, r.attempt, r.rerun,
  r.triggered_at AS "triggeredAt", r.created_at AS "createdAt", r.updated_at AS "updatedAt", r.finished_at AS "finishedAt"`;

export async function findRun(db: Queryable, workspaceId: string, id: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM workflow_runs r WHERE r.workspace_id = $1 AND r.id = $2`, [
    workspaceId,
    id,
  ]);
  return rows[0];
}

export async function runById(db: Queryable, id: string, lock = false): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM workflow_runs r WHERE r.id = $1 ${lock ? 'FOR UPDATE' : ''}`, [id]);
  return rows[0];
}

export async function runOfTrigger(db: Queryable, workflowId: string, key: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs r WHERE r.workflow_id = $1 AND r.trigger_event_key = $2`,
    [workflowId, key],
  );
  return rows[0];
}

export async function listRuns(
  db: Queryable,
  workspaceId: string,
  workflowId: string,
  o: { status?: string | undefined; before?: string | undefined; limit: number },
): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs r WHERE r.workspace_id = $1 AND r.workflow_id = $2
       AND ($3::text IS NULL OR r.status = $3) AND ($4::text IS NULL OR r.id < $4)
     ORDER BY r.id DESC LIMIT $5`,
    [workspaceId, workflowId, o.status ?? null, o.before ?? null, o.limit],
  );
  return rows;
}

export async function setRunStatus(db: Queryable, runId: string, status: string, error: string | null = null): Promise<void> {
  await db.query(
    `UPDATE workflow_runs SET status = $2, error = $3, updated_at = now(),
       finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'filtered') THEN now() ELSE NULL END
     WHERE id = $1`,
    [runId, status, error],
  );
}

/**
 * A failed run again: its failed steps (current rows; history rows of a rerun stay) due now with their frozen
 * inputs. -1 when the run is not failed; 0, with nothing changed, when it failed before any step (at its trigger).
 */
export async function retryFailedSteps(db: Queryable, runId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE workflow_runs SET status = 'running', error = NULL, attempt = attempt + 1, finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status = 'failed'
       AND EXISTS (SELECT 1 FROM workflow_steps s WHERE s.run_id = $1 AND s.status = 'failed' AND s.superseded_at IS NULL)`,
    [runId],
  );
  if (rowCount !== 1) {
    const { rows } = await db.query<{ status: string }>('SELECT status FROM workflow_runs WHERE id = $1', [runId]);
    return rows[0]?.status === 'failed' ? 0 : -1;
  }
  const r = await db.query(
    `UPDATE workflow_steps SET status = 'pending', attempts = 0, error = NULL, next_attempt_at = now(), finished_at = NULL,
       locked_by = NULL, locked_until = NULL
     WHERE run_id = $1 AND status = 'failed' AND superseded_at IS NULL`,
    [runId],
  );
  return r.rowCount;
}

/**
 * A rerun of a finished run from `fromStep` (whose current row is `fromRowId`): the run is running again with its
 * attempt counted up and recorded as its latest rerun; the current rows of `stepIds` (the step and every step
 * after it on the run's path) become history; the step is queued again with no input (it is rendered anew).
 * The run row is locked by the caller.
 */
export async function rerunFromStep(
  db: Queryable,
  r: { runId: string; workspaceId: string; stepIds: readonly string[]; newRowId: string; stepId: string; kind: string },
): Promise<number> {
  const { rows } = await db.query<{ attempt: number }>(
    `UPDATE workflow_runs SET status = 'running', error = NULL, attempt = attempt + 1, rerun = attempt + 1, finished_at = NULL,
       updated_at = now()
     WHERE id = $1 RETURNING attempt`,
    [r.runId],
  );
  const attempt = rows[0]!.attempt;
  // A run that is over has no pending step; one would be taken out of the queue here all the same.
  await db.query(
    `UPDATE workflow_steps SET superseded_at = now(), locked_by = NULL, locked_until = NULL,
       status = CASE WHEN status = 'pending' THEN 'skipped' ELSE status END
     WHERE run_id = $1 AND superseded_at IS NULL AND step_id = ANY($2::text[])`,
    [r.runId, r.stepIds],
  );
  await insertStep(db, { id: r.newRowId, runId: r.runId, workspaceId: r.workspaceId, stepId: r.stepId, kind: r.kind, rerun: attempt });
  return attempt;
}

/**
 * A filtered run (or one that failed at its trigger `if`) whose trigger, evaluated again with the workflow's
 * current version, now passes: it starts on that version with `firstStep` queued and its attempt counted up.
 * False when the run changed meanwhile (the caller holds no lock).
 */
export async function restartRun(
  db: Queryable,
  r: {
    runId: string;
    workspaceId: string;
    fromStatus: 'filtered' | 'failed';
    version: number;
    customer: unknown;
    firstStep: { id: string; stepId: string; kind: string };
  },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE workflow_runs SET status = 'running', version = $3, customer = $4, error = NULL, attempt = attempt + 1,
       finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status = $2 AND NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.run_id = $1)`,
    [r.runId, r.fromStatus, r.version, r.customer === null ? null : JSON.stringify(r.customer)],
  );
  if (rowCount !== 1) return false;
  await insertStep(db, { ...r.firstStep, runId: r.runId, workspaceId: r.workspaceId });
  return true;
}

/** Messages of a time range that have no run of the workflow, in id order after `afterId` (a bulk replay's page). */
export async function messagesWithoutRun(
  db: Queryable,
  o: { workspaceId: string; workflowId: string; since: Date; until: Date; afterId: string | null; limit: number },
): Promise<TriggerMessage[]> {
  const { rows } = await db.query<TriggerMessage>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages_with_data m
     WHERE m.workspace_id = $1 AND m.created_at >= $3 AND m.created_at < $4 AND NOT m.test AND m.id > $5
       AND NOT EXISTS (SELECT 1 FROM workflow_runs r WHERE r.workflow_id = $2 AND r.trigger_event_key = m.dedupe_key)
     ORDER BY m.id LIMIT $6`,
    [o.workspaceId, o.workflowId, o.since, o.until, o.afterId ?? '', o.limit],
  );
  return rows;
}

/** Runs of a workflow created in a time range with one of `statuses`, in id order after `afterId`. */
export async function runsInRange(
  db: Queryable,
  o: { workflowId: string; statuses: readonly string[]; since: Date; until: Date; afterId: string | null; limit: number },
): Promise<(RunRow & { stepCount: number })[]> {
  const { rows } = await db.query<RunRow & { stepCount: number }>(
    `SELECT ${RUN_COLUMNS}, (SELECT count(*)::int FROM workflow_steps s WHERE s.run_id = r.id) AS "stepCount"
     FROM workflow_runs r
     WHERE r.workflow_id = $1 AND r.status = ANY($2::text[]) AND r.created_at >= $3 AND r.created_at < $4 AND r.id > $5
     ORDER BY r.id LIMIT $6`,
    [o.workflowId, o.statuses, o.since, o.until, o.afterId ?? '', o.limit],
  );
  return rows;
}

// ---- steps ----

export const STEP_QUEUE: QueueDef = {
  table: 'workflow_steps',
  waiting: 'pending',
  finishedAt: 'finished_at',
  error: 'error',
  errorMaxBytes: 4000,
  returning: `q.id, q.run_id AS "runId", q.workspace_id AS "workspaceId", q.step_id AS "stepId", q.kind, q.attempts,
    q.input, q.next_attempt_at AS "nextAttemptAt", q.rerun`,
  plannedColumns: ['status', 'next_attempt_at', 'locked_until'],
};

export interface ClaimedStep {
  id: string;
  runId: string;
  workspaceId: string;
  stepId: string;
  kind: string;
  attempts: number;
  input: unknown;
  nextAttemptAt: Date;
  /** The run attempt of the rerun this row belongs to (null: the first execution): its effects' keys carry it. */
  rerun: number | null;
}

export function claimSteps(db: Queryable, workerId: string, limit: number, leaseSeconds: number): Promise<ClaimedStep[]> {
  return claimBatch<ClaimedStep>(db, STEP_QUEUE, { workerId, limit, leaseSeconds });
}

export interface StepRow {
  id: string;
  stepId: string;
  kind: string;
  status: string;
  input: unknown;
  output: unknown;
  error: string | null;
  attempts: number;
  nextAttemptAt: Date;
  createdAt: Date;
  finishedAt: Date | null;
  rerun: number | null;
  /** Replaced by a later rerun: history. */
  superseded: boolean;
}

/** Every step row of a run in the order they were reached, history rows of reruns included. */
export async function stepsOfRun(db: Queryable, runId: string): Promise<StepRow[]> {
  const { rows } = await db.query<StepRow>(
    `SELECT id, step_id AS "stepId", kind, status, input, output, error, attempts, next_attempt_at AS "nextAttemptAt",
       created_at AS "createdAt", finished_at AS "finishedAt", rerun, superseded_at IS NOT NULL AS superseded
     FROM workflow_steps WHERE run_id = $1 ORDER BY created_at, id`,
    [runId],
  );
  return rows;
}

/** Freezes a step's rendered input at its first attempt; the frozen input (this one or an earlier one) is returned. */
export async function freezeStepInput(db: Queryable, stepRowId: string, input: unknown): Promise<unknown> {
  const { rows } = await db.query<{ input: unknown }>(
    'UPDATE workflow_steps SET input = COALESCE(input, $2::jsonb) WHERE id = $1 RETURNING input',
    [stepRowId, JSON.stringify(input)],
  );
  return rows[0]?.input;
}

/** A step's outcome (the claim must be held by the caller's transaction). */
export async function finishStep(
  db: Queryable,
  s: {
    id: string;
    status: 'succeeded' | 'failed' | 'skipped' | 'pending';
    output?: unknown;
    error?: string | null;
    retryInSeconds?: number | null;
  },
): Promise<void> {
  await db.query(
    `UPDATE workflow_steps SET status = $2, output = COALESCE($3::jsonb, output), error = $4, locked_by = NULL, locked_until = NULL,
       finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END,
       next_attempt_at = CASE WHEN $5::float8 IS NULL THEN next_attempt_at ELSE now() + make_interval(secs => $5::float8) END
     WHERE id = $1`,
    [s.id, s.status, s.output === undefined ? null : JSON.stringify(s.output), s.error ?? null, s.retryInSeconds ?? null],
  );
}

/** A delay step waits until `at`: due then, its attempt not counted. */
export async function waitStepUntil(db: Queryable, id: string, input: unknown, at: Date): Promise<void> {
  await db.query(
    `UPDATE workflow_steps SET input = COALESCE(input, $2::jsonb), next_attempt_at = $3, locked_by = NULL, locked_until = NULL,
       attempts = GREATEST(attempts - 1, 0)
     WHERE id = $1`,
    [id, JSON.stringify(input), at],
  );
}

export async function recordStepAttempt(
  db: Queryable,
  a: {
    id: string;
    stepRowId: string;
    attempt: number;
    startedAt: Date;
    durationMs: number;
    statusCode: number | null;
    excerpt: string | null;
    error: string | null;
    ok: boolean;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO workflow_step_attempts (id, step_row_id, attempt, started_at, duration_ms, status_code, response_excerpt, error, ok)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [a.id, a.stepRowId, a.attempt, a.startedAt, a.durationMs, a.statusCode, a.excerpt, a.error, a.ok],
  );
}

export interface AttemptRow {
  stepRowId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  responseExcerpt: string | null;
  error: string | null;
  ok: boolean;
}

export async function attemptsOfRun(db: Queryable, runId: string): Promise<AttemptRow[]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT a.step_row_id AS "stepRowId", a.attempt, a.started_at AS "startedAt", a.duration_ms AS "durationMs",
       a.status_code AS "statusCode", a.response_excerpt AS "responseExcerpt", a.error, a.ok
     FROM workflow_step_attempts a JOIN workflow_steps s ON s.id = a.step_row_id WHERE s.run_id = $1 ORDER BY a.started_at, a.id`,
    [runId],
  );
  return rows;
}

// ---- secrets ----

export async function putSecret(db: Queryable, workspaceId: string, name: string, sealed: string): Promise<boolean> {
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO workflow_secrets (workspace_id, name, sealed) VALUES ($1, $2, $3)
     ON CONFLICT (workspace_id, name) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()
     RETURNING (xmax = 0) AS inserted`,
    [workspaceId, name, sealed],
  );
  return rows[0]!.inserted;
}

export async function listSecrets(db: Queryable, workspaceId: string): Promise<{ name: string; createdAt: Date; updatedAt: Date }[]> {
  const { rows } = await db.query<{ name: string; createdAt: Date; updatedAt: Date }>(
    'SELECT name, created_at AS "createdAt", updated_at AS "updatedAt" FROM workflow_secrets WHERE workspace_id = $1 ORDER BY name',
    [workspaceId],
  );
  return rows;
}

export async function sealedSecrets(db: Queryable, workspaceId: string): Promise<{ name: string; sealed: string }[]> {
  const { rows } = await db.query<{ name: string; sealed: string }>('SELECT name, sealed FROM workflow_secrets WHERE workspace_id = $1', [
    workspaceId,
  ]);
  return rows;
}

export async function deleteSecret(db: Queryable, workspaceId: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM workflow_secrets WHERE workspace_id = $1 AND name = $2', [workspaceId, name]);
  return rowCount === 1;
}

/** The provider's time of a stored event (Stripe's `created`, else when it was received), by its provider id. */
export async function providerEventTime(
  db: Queryable,
  workspaceId: string,
  provider: string,
  providerEventId: string,
): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date }>(
    `SELECT CASE WHEN jsonb_typeof(p->'created') = 'number' THEN to_timestamp((p->>'created')::float8) ELSE received_at END AS at
     FROM events e, LATERAL (SELECT ${payloadOf('e')} AS p OFFSET 0) x
     WHERE workspace_id = $1 AND provider = $2 AND provider_event_id = $3 ORDER BY id LIMIT 1`,
    [workspaceId, provider, providerEventId],
  );
  return rows[0]?.at;
}

/** The depth of the run that emitted a custom event (its dedupe key is `custom:wf:<runId>:<stepId>`). */
export async function runDepth(db: Queryable, runId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ depth: number }>('SELECT depth FROM workflow_runs WHERE id = $1', [runId]);
  return rows[0]?.depth;
}
