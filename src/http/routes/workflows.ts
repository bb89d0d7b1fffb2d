// Workflows: definitions (validated as a whole: 422 VALIDATION_FAILED lists every problem), versions, runs,
// retries, dry runs, replays, and the workspace secrets their URLs and headers may use.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { listWorkflowRuns, getRun } from '../../services/workflows/read-runs.js';
import { getWorkflow, listWorkflowsOf, listWorkflowVersions, removeWorkflow } from '../../services/workflows/read-workflows.js';
import { replayWorkflow } from '../../services/workflows/replay-workflow.js';
import { rerunRun } from '../../services/workflows/rerun-run.js';
import { retryRun } from '../../services/workflows/retry-run.js';
import { createWorkflow, patchWorkflow } from '../../services/workflows/save-workflow.js';
import { testWorkflow } from '../../services/workflows/test-workflow.js';
import { listWorkflowSecrets, removeWorkflowSecret, saveWorkflowSecret } from '../../services/workflows/workflow-secrets.js';
import { adminOnly } from '../plugins/auth.js';
import {
  anyJson,
  apiErrors,
  NoContent,
  idOf,
  isoTime,
  nullable,
  oneOf,
  pageOf,
  paging,
  query,
  text,
  view,
  wsAnd,
  WsParams,
} from '../schemas/common.js';

const tags = ['workflows'];
const WorkflowParams = wsAnd({ id: idOf('wfl', 'the workflow id (wfl_…)') });
const RunParams = wsAnd({ id: idOf('wfr', 'the run id (wfr_…)') });
const SecretParams = wsAnd({ name: text(64, { minLength: 1, description: 'the secret name (letters, digits, _)' }) });

const Workflow = view(
  {
    id: Type.String(),
    name: Type.String(),
    enabled: Type.Boolean(),
    version: Type.Integer({ description: 'the version new runs are pinned to' }),
    trigger: anyJson('the trigger as saved'),
    steps: anyJson('the steps as saved, defaults filled in'),
    lastRunStatus: Type.Optional(nullable(Type.String())),
    createdAt: isoTime(),
    updatedAt: isoTime(),
  },
  'a workflow and its current definition',
);
const RunStatus = oneOf(['filtered', 'running', 'waiting', 'succeeded', 'failed'] as const);
const Run = view(
  {
    id: Type.String(),
    workflowId: Type.String(),
    version: Type.Integer(),
    status: RunStatus,
    mode: Type.String(),
    attempt: Type.Integer({ description: 'counted up by each retry, rerun and restart of the run' }),
    rerun: Type.Optional(nullable(Type.Integer({ description: 'the attempt of the latest rerun from a step; null: never rerun' }))),
    trigger: anyJson('{eventId, type, source, key, messageId}: the event that started it'),
    customerId: nullable(Type.String()),
    error: nullable(Type.String()),
    createdAt: isoTime(),
    finishedAt: nullable(isoTime()),
    steps: Type.Optional(
      anyJson(
        'each step reached, in order: stepId, kind, status, input (frozen), output, error, attempts; rows a rerun replaced stay with superseded: true',
      ),
    ),
  },
  'a workflow run',
);
// The definition is checked by validateDefinition, which lists every problem (422), not by the schema.
const Definition = Type.Unknown({ description: 'a workflow definition {name, enabled, trigger, steps} (docs/workflows.md)' });

export async function workflowRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.post(
    '/workspaces/:ws/workflows',
    {
      // A definition can send the workspace's secrets, email and access anywhere: only admins write them.
      config: adminOnly,
      schema: {
        summary: 'Create a workflow (version 1)',
        tags,
        params: WsParams,
        body: Definition,
        response: { 201: Workflow, ...apiErrors(400, 422) },
      },
    },
    async (r, reply) => reply.code(201).send(await createWorkflow(ctx, r.params.ws, r.body, r.principal)),
  );
  app.get(
    '/workspaces/:ws/workflows',
    {
      schema: {
        summary: 'The workflows, with the status of each one’s last run',
        tags,
        params: WsParams,
        response: { 200: view({ data: Type.Array(Workflow) }), ...apiErrors() },
      },
    },
    async (r) => listWorkflowsOf(ctx, r.params.ws),
  );
  app.get(
    '/workspaces/:ws/workflows/:id',
    { schema: { summary: 'One workflow', tags, params: WorkflowParams, response: { 200: Workflow, ...apiErrors() } } },
    async (r) => getWorkflow(ctx, r.params.ws, r.params.id),
  );
  app.patch(
    '/workspaces/:ws/workflows/:id',
    {
      config: adminOnly,
      schema: {
        summary: 'Change a workflow: fields given replace the current ones; a new trigger or steps is a new version',
        tags,
        params: WorkflowParams,
        body: Definition,
        response: { 200: Workflow, ...apiErrors(400, 422) },
      },
    },
    async (r) => patchWorkflow(ctx, r.params.ws, r.params.id, r.body, r.principal),
  );
  app.delete(
    '/workspaces/:ws/workflows/:id',
    {
      config: adminOnly,
      schema: {
        summary: 'Delete a workflow (no new runs; its history stays)',
        tags,
        params: WorkflowParams,
        response: { 204: NoContent, ...apiErrors() },
      },
    },
    async (r, reply) => {
      await removeWorkflow(ctx, r.params.ws, r.params.id, r.principal);
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/workspaces/:ws/workflows/:id/versions',
    {
      schema: {
        summary: 'Every version of a workflow, newest first',
        tags,
        params: WorkflowParams,
        response: {
          200: view({ data: Type.Array(view({ version: Type.Integer(), definition: anyJson('the definition'), createdAt: isoTime() })) }),
          ...apiErrors(),
        },
      },
    },
    async (r) => listWorkflowVersions(ctx, r.params.ws, r.params.id),
  );
  app.get(
    '/workspaces/:ws/workflows/:id/runs',
    {
      schema: {
        summary: 'Runs of a workflow, newest first',
        tags,
        params: WorkflowParams,
        querystring: query({ status: Type.Optional(RunStatus), ...paging }),
        response: { 200: pageOf(Run), ...apiErrors() },
      },
    },
    async (r) => listWorkflowRuns(ctx, r.params.ws, r.params.id, { status: r.query.status, limit: r.query.limit, cursor: r.query.cursor }),
  );
  app.get(
    '/workspaces/:ws/runs/:id',
    {
      schema: {
        summary: 'One run: each step with its frozen input, output or error, and attempts',
        tags,
        params: RunParams,
        response: { 200: Run, ...apiErrors() },
      },
    },
    async (r) => getRun(ctx, r.params.ws, r.params.id),
  );
  app.post(
    '/workspaces/:ws/runs/:id/retry',
    {
      schema: {
        summary: 'Retry a failed run: only its failed steps, with their frozen inputs and the same idempotency keys',
        tags,
        params: RunParams,
        response: { 200: Run, ...apiErrors(409) },
      },
    },
    async (r) => retryRun(ctx, r.params.ws, r.params.id),
  );
  app.post(
    '/workspaces/:ws/runs/:id/rerun',
    {
      schema: {
        summary:
          'Rerun a finished run from a step it reached: that step and the ones after it execute again, inputs rendered anew, keys carrying the new attempt',
        tags,
        params: RunParams,
        body: Type.Object(
          { fromStep: text(100, { minLength: 1, description: 'the id of the step to execute again from' }) },
          { additionalProperties: false },
        ),
        response: { 200: Run, ...apiErrors(400, 409, 422) },
      },
    },
    async (r) => rerunRun(ctx, r.params.ws, r.params.id, r.body),
  );
  app.post(
    '/workspaces/:ws/workflows/:id/test',
    {
      schema: {
        summary: 'Dry run: evaluate the trigger and render every step for a stored event or a payload; nothing is sent',
        tags,
        params: WorkflowParams,
        body: Type.Object(
          {
            eventId: Type.Optional(text(200, { description: 'a stored event (evt_…) or message (msg_…)' })),
            payload: Type.Optional(anyJson('an event as JSON (a Stripe event, or a business/custom event’s data)')),
            type: Type.Optional(text(200, { description: 'the event type of payload, when it does not say' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: view({ matched: Type.Boolean(), filtered: Type.Boolean(), steps: anyJson(), sent: Type.Boolean() }),
          ...apiErrors(400),
        },
      },
    },
    async (r) => testWorkflow(ctx, r.params.ws, r.params.id, r.body),
  );
  app.post(
    '/workspaces/:ws/workflows/:id/replay',
    {
      schema: {
        summary:
          'Start the workflow for stored events it has no run for (one run per event, ever); by time range, also retry its failed runs and evaluate its filtered runs again',
        tags,
        params: WorkflowParams,
        body: Type.Object(
          {
            eventIds: Type.Optional(Type.Array(text(200), { maxItems: 1000 })),
            since: Type.Optional(text(40, { description: 'ISO time (or unix seconds): start of the range' })),
            until: Type.Optional(text(40, { description: 'ISO time (or unix seconds), default now: end of the range (excluded)' })),
            status: Type.Optional(
              // Checked by the service, which says why a status (succeeded, running) cannot be replayed.
              Type.Array(text(20), {
                maxItems: 5,
                description:
                  'failed and/or filtered: runs created in the range with these statuses; failed ones retried, filtered ones evaluated again',
              }),
            ),
            limit: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 10000, description: 'runs and events handled by this call (default 10000)' }),
            ),
            cursor: Type.Optional(text(100, { description: 'nextCursor of the previous call (same since, until, status)' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: view({
            data: anyJson('per event or run: eventId, runId, and what was done (created / action)'),
            missing: Type.Array(Type.String()),
            started: Type.Optional(Type.Integer({ description: 'runs started for events that had none' })),
            retried: Type.Optional(Type.Integer({ description: 'failed runs retried' })),
            reevaluated: Type.Optional(Type.Integer({ description: 'filtered runs whose trigger was evaluated again' })),
            restarted: Type.Optional(Type.Integer({ description: 'of those, runs that now pass and started on the current version' })),
            skipped: Type.Optional(
              Type.Integer({ description: 'runs left as they were (still filtered, nothing to retry, changed meanwhile)' }),
            ),
            examined: Type.Optional(Type.Integer({ description: 'events of the range without a run of this workflow looked at' })),
            nextCursor: Type.Optional(nullable(Type.String({ description: 'more to do: call again with it' }))),
          }),
          ...apiErrors(400),
        },
      },
    },
    async (r) => replayWorkflow(ctx, r.params.ws, r.params.id, r.body),
  );
  app.put(
    '/workspaces/:ws/secrets/:name',
    {
      config: adminOnly,
      schema: {
        summary: 'Store a workspace secret for workflow URLs and headers (write-only; sealed at rest)',
        tags,
        params: SecretParams,
        body: Type.Object(
          { value: text(8192, { minLength: 1, description: 'one line: no control character but tab (no CR, LF, ESC, DEL, …)' }) },
          { additionalProperties: false },
        ),
        response: { 200: view({ name: Type.String(), created: Type.Boolean() }), ...apiErrors(400) },
      },
    },
    async (r) => saveWorkflowSecret(ctx, r.params.ws, r.params.name, r.body, r.principal),
  );
  app.delete(
    '/workspaces/:ws/secrets/:name',
    {
      config: adminOnly,
      schema: {
        summary: 'Delete a workspace secret (a step that still reads it fails, naming it)',
        tags,
        params: SecretParams,
        response: { 204: NoContent, ...apiErrors() },
      },
    },
    async (r, reply) => {
      await removeWorkflowSecret(ctx, r.params.ws, r.params.name, r.principal);
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/workspaces/:ws/secrets',
    {
      schema: {
        summary: 'The names of the workspace secrets (never their values)',
        tags,
        params: WsParams,
        response: {
          200: view({ data: Type.Array(view({ name: Type.String(), createdAt: isoTime(), updatedAt: isoTime() })) }),
          ...apiErrors(),
        },
      },
    },
    async (r) => listWorkflowSecrets(ctx, r.params.ws),
  );
}
