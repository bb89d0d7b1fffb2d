/** @jsx h */
/** @jsxFrag Fragment */
// One workflow: its definition in the editor (saved through the same service as the API's PATCH: a refused save
// lists every problem next to the editor and saves nothing; an accepted one is a new version), the trigger
// picker, the enable/disable switch, a dry run against a recent stored event (nothing sent), its latest runs and
// its versions. Members and admins change and try it; viewers read.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { listWorkflowRuns } from '../../services/workflows/read-runs.js';
import { getWorkflow, listWorkflowVersions } from '../../services/workflows/read-workflows.js';
import { recentTriggerEvents, type RecentTriggerEvent } from '../../services/workflows/recent-trigger-events.js';
import { patchWorkflow } from '../../services/workflows/save-workflow.js';
import { testWorkflow } from '../../services/workflows/test-workflow.js';
import { triggerCatalog } from '../../services/workflows/trigger-catalog.js';
import { Empty, Flash, Layout, Time } from '../components/layout.js';
import { q1 } from '../components/outbound.js';
import { Select } from '../components/select.js';
import {
  DryStepBadge,
  EditorForm,
  EnabledBadge,
  JsonBlock,
  TriggerSummary,
  WorkflowRunBadge,
  type EditorProblem,
} from '../components/workflows.js';
import { saveFromEditor } from '../definition-input.js';
import { field, problemsOf } from '../forms.js';
import { h, Fragment, type Html } from '../jsx.js';
import { formatJson, readableDefinition, readableInput } from '../json-text.js';
import { requireRole, requireWorkspace, sendHtml, type WorkspacePage } from '../request.js';
import { sourceOptions } from './workflows.js';

type Params = { ws: string; id: string };
type Workflow = Awaited<ReturnType<typeof getWorkflow>>;
type DryRun = Awaited<ReturnType<typeof testWorkflow>>;
type DryStep = DryRun['steps'][number];

const MAX_VERSIONS_SHOWN = 50;

/** The editor's text for a workflow: what a person writes (enabled is the switch above, not part of the text). */
export function editorText(w: Workflow): string {
  return formatJson(readableDefinition({ name: w.name, trigger: w.trigger, steps: w.steps }));
}

function flashOf(query: unknown): Html | null {
  const done = q1(query, 'done');
  const version = Number(q1(query, 'version'));
  const v = Number.isInteger(version) && version > 0 ? version : null;
  if (done === 'created') return <Flash kind="ok">Workflow created (version 1).</Flash>;
  if (done === 'saved') return <Flash kind="ok">Saved as version {v ?? '?'}. New runs use it; runs already started stay on theirs.</Flash>;
  if (done === 'unchanged') return <Flash kind="info">Nothing to save: the definition is the same as the current version.</Flash>;
  if (done === 'enabled') return <Flash kind="ok">Enabled: new events start runs again.</Flash>;
  if (done === 'disabled') return <Flash kind="ok">Disabled: new events start no run; runs already started finish.</Flash>;
  return null;
}

interface DryRunState {
  eventId?: string;
  result?: DryRun;
  error?: string;
}

interface PageState {
  text?: string;
  problems?: EditorProblem[];
  dryRun?: DryRunState;
}

/** Requests each step would send, as text: the method and URL, the headers, the body. */
function RequestText(props: { request: NonNullable<DryStep['request']> }): Html {
  const r = props.request;
  const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`);
  const body = r.body === null || r.body === undefined ? '' : typeof r.body === 'string' ? r.body : formatJson(r.body);
  return (
    <pre class="payload request" tabindex="0" aria-label={`The request: ${r.method} ${r.url}`}>
      <code>{[`${r.method} ${r.url}`, ...headers, '', body].join('\n')}</code>
    </pre>
  );
}

function DryRunResult(props: { state: DryRunState; version: number }): Html {
  const { state } = props;
  if (state.error) return <Flash kind="error">{state.error}</Flash>;
  const r = state.result;
  if (!r) return <></>;
  return (
    <div class="dry-result" aria-labelledby="h-dry-result">
      <h3 id="h-dry-result">
        Dry run of version {r.version} for <code>{state.eventId}</code>
      </h3>
      <p class="muted">Nothing was sent, written or published.</p>
      <dl class="props">
        <dt>Trigger</dt>
        <dd>
          {r.matched ? (
            <span class="badge ok">matches</span>
          ) : (
            <>
              <span class="badge bad">does not match</span> this event starts no run of this workflow.
            </>
          )}
        </dd>
        {r.matched ? (
          <>
            <dt>Condition</dt>
            <dd>
              {r.error ? (
                <>
                  <span class="badge bad">error</span> {r.error}
                </>
              ) : r.filtered ? (
                <>
                  <span class="badge">filtered</span> its <code>if</code> is false: the run would be recorded as filtered, and no step runs.
                </>
              ) : (
                <span class="muted">none, or true: the steps run</span>
              )}
            </dd>
          </>
        ) : null}
      </dl>
      {r.steps.length > 0 ? (
        <ol class="timeline dry-steps">
          {r.steps.map((s) => (
            <li id={`dry-${s.stepId}`}>
              <h4>
                <code>{s.stepId}</code> <span class="muted">{s.kind}</span> <DryStepBadge status={s.status} />
              </h4>
              {s.branch !== undefined ? <p>Takes the branch {branchText(s.branch)}.</p> : null}
              {s.status === 'skipped' ? <p class="muted">Its if is false: skipped.</p> : null}
              {s.error ? <p class="error">{s.error}</p> : null}
              {s.status === 'would_run' && s.would && !s.request ? <p class="would">{s.would}</p> : null}
              {s.request ? (
                <>
                  <p class="would">
                    Would {s.request.method} <code>{s.request.url}</code>
                    {s.request.body === null || s.request.body === undefined ? ' with no body' : ' with:'}
                  </p>
                  <RequestText request={s.request} />
                </>
              ) : null}
              {s.input !== undefined && !s.request ? (
                <details>
                  <summary>Rendered input</summary>
                  <JsonBlock value={readableInput(s.input)} label={`Rendered input of step ${s.stepId}`} />
                </details>
              ) : null}
            </li>
          ))}
        </ol>
      ) : null}
    </div>
  );
}

function branchText(branch: unknown): string {
  if (branch === 'then' || branch === 'else') return `"${branch}"`;
  const b = branch as { value?: unknown; case?: unknown } | null;
  if (b && typeof b === 'object' && 'case' in b) {
    const which = b.case === 'default' ? 'default' : `case ${JSON.stringify(b.case)}`;
    return `${which} (the value is ${JSON.stringify(b.value)})`;
  }
  return JSON.stringify(branch);
}

function eventLabel(e: RecentTriggerEvent): string {
  return `${e.createdAt.slice(0, 19).replace('T', ' ')} · ${e.type} · ${e.id}${e.matches ? '' : ' (trigger does not match)'}`;
}

function DryRunSection(props: {
  ws: string;
  w: Workflow;
  csrf: string | undefined;
  member: boolean;
  list: { mode: string; type: string | undefined; events: RecentTriggerEvent[]; window: number; problem?: string };
  state: DryRunState;
}): Html {
  const { ws, w, list } = props;
  const base = `/workspaces/${ws}/workflows/${w.id}`;
  return (
    <section id="dry-run" aria-labelledby="h-dry-run">
      <h2 id="h-dry-run">Dry run</h2>
      <p class="muted">
        Tries version {w.version} on an event Sluice stored: whether the trigger matches, whether its condition filters, and for each step
        on the path the event takes what it would do — for HTTP, Slack and Discord steps the request it would send. Nothing is sent, written
        or published.
      </p>
      {props.member ? (
        <>
          <form method="get" action={`${base}#dry-run`} class="filters" aria-label="Which events to list">
            <Select
              name="events"
              label="Events"
              value={list.mode}
              options={[
                ['', 'Recent events the trigger matches'],
                ['any', 'Any recent event of a type'],
              ]}
            />
            <div class="field">
              <label for="f-type">Type (for any event)</label>
              <input
                id="f-type"
                name="type"
                type="text"
                value={list.type}
                placeholder="stripe.invoice.paid"
                aria-invalid={list.problem ? 'true' : undefined}
                aria-describedby={list.problem ? 'f-type-error' : undefined}
              />
              {list.problem ? (
                <small id="f-type-error" class="error">
                  {list.problem}
                </small>
              ) : null}
            </div>
            <div class="field">
              <button type="submit" class="secondary">
                List events
              </button>
            </div>
          </form>
          {list.events.length === 0 ? (
            <Empty>
              {list.mode === 'any'
                ? list.type
                  ? `No recent event of type ${list.type}.`
                  : 'Give a type to list recent events of it (an exact type: stripe.invoice.paid, subscription.canceled, course.enrolled).'
                : `None of the workspace's latest ${list.window.toLocaleString('en')} events and messages matches this trigger. List any recent event of a type instead, or send a test event.`}
            </Empty>
          ) : (
            <form method="post" action={`${base}/dry-run#dry-run`} class="filters dry-run-form">
              <input type="hidden" name="_csrf" value={props.csrf} />
              {list.mode ? <input type="hidden" name="events" value={list.mode} /> : null}
              {list.type ? <input type="hidden" name="type" value={list.type} /> : null}
              <Select name="eventId" label="Event" value={props.state.eventId} options={list.events.map((e) => [e.id, eventLabel(e)])} />
              <div class="field">
                <button type="submit">Dry run</button>
              </div>
            </form>
          )}
          <DryRunResult state={props.state} version={w.version} />
        </>
      ) : (
        <p class="muted">Dry runs need the member or admin role.</p>
      )}
    </section>
  );
}

async function renderWorkflow(
  ctx: Ctx,
  request: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
  page: WorkspacePage,
  state: PageState,
  status = 200,
): Promise<FastifyReply> {
  const ws = page.workspace.id;
  const w = await getWorkflow(ctx, ws, request.params.id);
  const member = page.role !== 'viewer';
  // Only admins write definitions (they can send the workspace's secrets, email and access anywhere).
  const admin = page.role === 'admin';
  const source = state.dryRun ? (request.body as Record<string, unknown> | undefined) : (request.query as Record<string, unknown>);
  const mode = q1(source, 'events') === 'any' ? 'any' : '';
  const type = q1(source, 'type')?.trim() || undefined;
  const list: { mode: string; type: string | undefined; events: RecentTriggerEvent[]; window: number; problem?: string } = {
    mode,
    type,
    events: [],
    window: 0,
  };
  const [catalog, versions, runs] = await Promise.all([
    triggerCatalog(ctx, ws),
    listWorkflowVersions(ctx, ws, w.id),
    listWorkflowRuns(ctx, ws, w.id, { limit: '5' }),
  ]);
  if (member && (mode === '' || type)) {
    try {
      const found = await recentTriggerEvents(ctx, ws, w.id, { type: mode === 'any' ? type : undefined });
      list.events = found.data;
      list.window = found.window;
    } catch (err) {
      const p = problemsOf(err);
      if (!p) throw err;
      list.problem = p.type ?? Object.values(p)[0];
    }
  }
  const frame = page.layout(`Workflow: ${w.name}`, 'workflows');
  const base = `/workspaces/${ws}/workflows/${w.id}`;
  return sendHtml(
    reply,
    <Layout {...frame} scripts={['workflow-editor.js']}>
      <p class="crumbs">
        <a href={`/workspaces/${ws}/workflows`}>All workflows</a>
      </p>
      <h1>
        {w.name} <EnabledBadge enabled={w.enabled} /> <span class="badge">version {w.version}</span>
      </h1>
      {flashOf(request.query)}
      <div class="actions">
        {admin ? (
          <form method="post" action={`${base}/${w.enabled ? 'disable' : 'enable'}`} class="inline">
            <input type="hidden" name="_csrf" value={frame.csrf} />
            <button type="submit" class={w.enabled ? 'secondary' : ''}>
              {w.enabled ? 'Disable' : 'Enable'}
            </button>
          </form>
        ) : null}
        <a href={`${base}/runs`}>Run log</a>
        <a href="#dry-run">Dry run</a>
        <a href="#versions">Versions</a>
      </div>
      <dl class="props">
        <dt>Trigger</dt>
        <dd>
          <TriggerSummary trigger={w.trigger} />
        </dd>
        <dt>Steps</dt>
        <dd>{countSteps(w.steps)}</dd>
        <dt>Updated</dt>
        <dd>
          <Time at={w.updatedAt} />
        </dd>
        <dt>Id</dt>
        <dd>
          <code>{w.id}</code>
        </dd>
      </dl>

      <section aria-labelledby="h-definition">
        <h2 id="h-definition">Definition</h2>
        <EditorForm
          action={base}
          csrf={frame.csrf}
          text={state.text ?? editorText(w)}
          problems={state.problems ?? []}
          readOnly={!admin}
          catalog={catalog}
          sources={sourceOptions()}
          submitLabel="Save as a new version"
        />
      </section>

      <DryRunSection ws={ws} w={w} csrf={frame.csrf} member={member} list={list} state={state.dryRun ?? {}} />

      <section aria-labelledby="h-runs">
        <h2 id="h-runs">Latest runs</h2>
        {runs.data.length === 0 ? (
          <Empty>No run yet: runs appear here when an event the trigger matches arrives.</Empty>
        ) : (
          <ul class="latest-runs">
            {runs.data.map((r) => (
              <li>
                <WorkflowRunBadge status={r.status} />{' '}
                <a href={`${base}/runs/${r.id}`}>
                  <Time at={r.createdAt} />
                </a>{' '}
                <code>{publishedTypeOf(r.trigger)}</code>
              </li>
            ))}
          </ul>
        )}
        <p>
          <a href={`${base}/runs`}>All runs of this workflow</a>
        </p>
      </section>

      <section id="versions" aria-labelledby="h-versions">
        <h2 id="h-versions">Versions</h2>
        <p class="muted">Every change of the definition is a new version; a run keeps the version it started on.</p>
        <div class="table-wrap">
          <table class="versions">
            <caption class="visually-hidden">Versions, newest first</caption>
            <thead>
              <tr>
                <th scope="col" class="num">
                  Version
                </th>
                <th scope="col">Saved (UTC)</th>
                <th scope="col">Name</th>
                <th scope="col">Trigger</th>
                <th scope="col">Definition</th>
              </tr>
            </thead>
            <tbody>
              {versions.data.slice(0, MAX_VERSIONS_SHOWN).map((v) => {
                const d = v.definition as { name?: unknown; trigger?: unknown; steps?: unknown };
                return (
                  <tr id={`version-${v.version}`}>
                    <td class="num">
                      {v.version}
                      {v.version === w.version ? (
                        <>
                          {' '}
                          <span class="badge ok">current</span>
                        </>
                      ) : null}
                    </td>
                    <td>
                      <Time at={v.createdAt} />
                    </td>
                    <td>{typeof d.name === 'string' ? d.name : '—'}</td>
                    <td>
                      <TriggerSummary trigger={d.trigger} />
                    </td>
                    <td>
                      <details>
                        <summary>
                          {countSteps(d.steps)} {countSteps(d.steps) === 1 ? 'step' : 'steps'}
                        </summary>
                        <JsonBlock value={readableDefinition(d)} label={`Definition of version ${v.version}`} />
                      </details>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {versions.data.length > MAX_VERSIONS_SHOWN ? (
          <p class="muted">
            The {MAX_VERSIONS_SHOWN} newest of {versions.data.length} versions; the API lists them all.
          </p>
        ) : null}
      </section>
    </Layout>,
    status,
  );
}

/** A run's event type as Sluice publishes it: provider events as stripe.… / piano.…. */
export function publishedTypeOf(trigger: unknown): string {
  const t = trigger as { type?: string | null; source?: string | null };
  if (!t.type) return '—';
  return t.source === 'stripe' || t.source === 'piano' ? `${t.source}.${t.type}` : t.type;
}

/** Steps in all, branches included. */
function countSteps(steps: unknown): number {
  if (!Array.isArray(steps)) return 0;
  let n = 0;
  for (const s of steps as Record<string, unknown>[]) {
    n++;
    if (Array.isArray(s.cases)) for (const c of s.cases as { steps?: unknown }[]) n += countSteps(c.steps);
    n += countSteps(s.default) + countSteps(s.else);
    if (s.kind === 'if') n += countSteps(s.steps);
  }
  return n;
}

export async function workflowDetailPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: Params }>('/workspaces/:ws/workflows/:id', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    return renderWorkflow(ctx, request, reply, page, {});
  });

  // Save: the editor's text replaces name, trigger and steps (a field left out is a problem, not kept from before).
  app.post<{ Params: Params }>('/workspaces/:ws/workflows/:id', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Changing a workflow');
    const ws = page.workspace.id;
    const before = await getWorkflow(ctx, ws, request.params.id);
    const text = field(request.body, 'definition') ?? '';
    const saved = await saveFromEditor(text, (d) =>
      patchWorkflow(ctx, ws, before.id, { name: undefined, trigger: undefined, steps: undefined, ...d }, page.principal),
    );
    if (!saved.ok) return renderWorkflow(ctx, request, reply, page, { text, problems: saved.problems }, 422);
    const after = saved.value;
    const outcome = after.version === before.version ? 'done=unchanged' : `done=saved&version=${after.version}`;
    return reply.redirect(`/workspaces/${ws}/workflows/${after.id}?${outcome}`, 303);
  });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post<{ Params: Params }>(`/workspaces/:ws/workflows/:id/${verb}`, async (request, reply) => {
      const page = await requireWorkspace(ctx, request, request.params.ws);
      requireRole(page, 'admin', `${enabled ? 'Enabling' : 'Disabling'} a workflow`);
      const w = await patchWorkflow(ctx, page.workspace.id, request.params.id, { enabled }, page.principal);
      return reply.redirect(`/workspaces/${page.workspace.id}/workflows/${w.id}?done=${verb}d`, 303);
    });
  }

  app.post<{ Params: Params }>('/workspaces/:ws/workflows/:id/dry-run', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'A dry run');
    const ws = page.workspace.id;
    const eventId = field(request.body, 'eventId')?.trim() ?? '';
    const state: DryRunState = { eventId };
    if (!eventId) state.error = 'Choose an event to try the workflow on.';
    else {
      try {
        state.result = await testWorkflow(ctx, ws, request.params.id, { eventId });
      } catch (err) {
        // An event that went away, or one that is not of this workspace: said here, next to the form.
        const code = (err as { code?: string }).code;
        if (code !== 'EVENT_NOT_FOUND' && !problemsOf(err)) throw err;
        if (code === 'WORKFLOW_NOT_FOUND' || code === 'WORKSPACE_NOT_FOUND') throw err;
        state.error = (err as Error).message;
      }
    }
    return renderWorkflow(ctx, request, reply, page, { dryRun: state }, state.error ? 400 : 200);
  });
}
