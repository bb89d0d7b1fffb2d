/** @jsx h */
/** @jsxFrag Fragment */
// A workflow's run log (newest first, a status filter, keyset pages) and one run: the event that started it, and
// its step timeline — each step in order with its status, when it started and finished, its frozen input (secrets
// as ⟦secret:NAME⟧ markers, as stored: never values), its output or error, and every attempt (status code,
// duration, what the receiver answered). A failed run can be retried by a member or an admin: its failed steps
// run again with their frozen inputs and the same idempotency keys.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { customerLabels } from '../../services/crm/customer-labels.js';
import { getRun, listWorkflowRuns } from '../../services/workflows/read-runs.js';
import { getWorkflow } from '../../services/workflows/read-workflows.js';
import { retryRun } from '../../services/workflows/retry-run.js';
import { Empty, Flash, Layout, Time } from '../components/layout.js';
import { Pager, q1, qs } from '../components/outbound.js';
import { duration } from '../components/parity.js';
import { Select } from '../components/select.js';
import { JsonBlock, RUN_STATUSES, StepBadge, WorkflowRunBadge } from '../components/workflows.js';
import { problemsOf } from '../forms.js';
import { readableInput } from '../json-text.js';
import { h, Fragment, type Html } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml } from '../request.js';

const PAGE_SIZE = 50;
/** Characters a line of JSON gets in the half-width input and output columns at 1280 px. */
const COLUMN_WIDTH = 56;

type Run = Awaited<ReturnType<typeof getRun>>;
type Step = NonNullable<Run['steps']>[number];

const span = (from: string | null | undefined, to: string | null | undefined): number | null =>
  from && to ? new Date(to).getTime() - new Date(from).getTime() : null;

/** The event that started a run: a stored event links to its page; a business or custom message is its id. */
function TriggerEvent(props: { ws: string; run: Pick<Run, 'trigger'> }): Html {
  const t = props.run.trigger as { eventId: string | null; type: string | null; source: string | null };
  // Provider events are stored with the provider's own type; shown as Sluice publishes them (stripe.…).
  const published = t.type && (t.source === 'stripe' || t.source === 'piano') ? `${t.source}.${t.type}` : t.type;
  const type = <code>{published ?? '—'}</code>;
  if (t.eventId && /^ev_[0-9a-z]{24}$/.test(t.eventId))
    return (
      <>
        {type}{' '}
        <a href={`/workspaces/${props.ws}/events/${t.eventId}`} aria-label={`Event ${t.eventId}`}>
          {t.eventId}
        </a>
      </>
    );
  return (
    <>
      {type} {t.eventId ? <small class="muted">{t.eventId}</small> : null}
    </>
  );
}

function Customer(props: { ws: string; id: string | null; labels: Map<string, string> }): Html {
  if (!props.id) return <span class="muted">—</span>;
  return <a href={`/workspaces/${props.ws}/customers/${props.id}`}>{props.labels.get(props.id) ?? props.id}</a>;
}

function StepTimeline(props: { steps: Step[] }): Html {
  return (
    <ol class="timeline steps">
      {props.steps.map((s, i) => {
        const started = s.attempts[0]?.startedAt ?? s.createdAt;
        return (
          <li id={`step-${s.stepId}`} class={`step ${s.status}`}>
            <h3>
              <span class="step-no">{i + 1}.</span> <code>{s.stepId}</code> <span class="muted">{s.kind}</span>{' '}
              <StepBadge status={s.status} />
            </h3>
            <dl class="props">
              <dt>Started</dt>
              <dd>
                <Time at={started} />
              </dd>
              <dt>Finished</dt>
              <dd>
                <Time at={s.finishedAt} />
              </dd>
              <dt>Duration</dt>
              <dd>{duration(span(started, s.finishedAt))}</dd>
              {s.nextAttemptAt ? (
                <>
                  <dt>{s.kind === 'delay' ? 'Resumes at' : 'Next attempt'}</dt>
                  <dd>
                    <Time at={s.nextAttemptAt} />
                  </dd>
                </>
              ) : null}
            </dl>
            {s.error ? <p class="error step-error">{s.error}</p> : null}
            <div class="step-io">
              <div>
                <h4>Input</h4>
                {s.input === null ? (
                  <p class="muted">
                    {s.status === 'failed' ? 'None: the step failed before its input was rendered.' : 'Not rendered yet.'}
                  </p>
                ) : (
                  <JsonBlock value={readableInput(s.input)} label={`Input of step ${s.stepId}`} width={COLUMN_WIDTH} />
                )}
              </div>
              <div>
                <h4>Output</h4>
                {s.output === null ? (
                  <p class="muted">{s.status === 'failed' ? 'None: it failed.' : s.status === 'pending' ? 'None yet.' : 'None.'}</p>
                ) : (
                  <JsonBlock value={s.output} label={`Output of step ${s.stepId}`} width={COLUMN_WIDTH} />
                )}
              </div>
            </div>
            {s.attempts.length > 0 ? (
              <div class="table-wrap">
                <table class="attempts">
                  <caption>
                    Attempts of <code>{s.stepId}</code>
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col" class="num">
                        #
                      </th>
                      <th scope="col">Started (UTC)</th>
                      <th scope="col" class="num">
                        Duration
                      </th>
                      <th scope="col" class="num">
                        Status
                      </th>
                      <th scope="col">Outcome</th>
                      <th scope="col">Response or error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.attempts.map((a) => (
                      <tr>
                        <td class="num">{a.attempt}</td>
                        <td>
                          <Time at={a.startedAt} />
                        </td>
                        <td class="num">{duration(a.durationMs)}</td>
                        <td class="num">{a.statusCode ?? <span class="muted">—</span>}</td>
                        <td>{a.ok ? <span class="badge ok">ok</span> : <span class="badge bad">failed</span>}</td>
                        <td class="excerpt-cell">
                          {a.error ? <p class="error">{a.error}</p> : null}
                          {a.responseExcerpt ? (
                            <pre class="excerpt">{a.responseExcerpt}</pre>
                          ) : a.error ? null : (
                            <span class="muted">empty</span>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

export async function workflowRunsPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string; id: string } }>('/workspaces/:ws/workflows/:id/runs', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const w = await getWorkflow(ctx, ws, request.params.id);
    const status = q1(request.query, 'status');
    const cursor = q1(request.query, 'cursor');
    const problems: Record<string, string> = {};
    let rows: Run[] = [];
    let nextCursor: string | null = null;
    try {
      const listed = await listWorkflowRuns(ctx, ws, w.id, { status, cursor, limit: String(PAGE_SIZE) });
      rows = listed.data;
      nextCursor = listed.nextCursor;
    } catch (err) {
      const p = problemsOf(err);
      if (!p || (err as { status?: number }).status === 404) throw err;
      Object.assign(problems, p);
    }
    const valid = Object.keys(problems).length === 0;
    const labels = await customerLabels(
      ctx,
      ws,
      rows.flatMap((r) => (r.customerId ? [r.customerId] : [])),
    );
    const base = `/workspaces/${ws}/workflows/${w.id}`;
    return sendHtml(
      reply,
      <Layout {...page.layout(`Runs of ${w.name}`, 'workflows')}>
        <p class="crumbs">
          <a href={`/workspaces/${ws}/workflows`}>All workflows</a> · <a href={base}>{w.name}</a>
        </p>
        <h1>Runs of {w.name}</h1>
        <p class="lead muted">
          One run per event the trigger matched, newest first. <strong>filtered</strong>: the trigger's condition was false, so no step ran.
        </p>
        <form method="get" action={`${base}/runs`} class="filters" aria-label="Filter runs">
          <Select
            name="status"
            label="Status"
            value={status}
            options={[['', 'Any status'], ...RUN_STATUSES.map((s): [string, string] => [s, s])]}
            error={problems.status}
          />
          <div class="field">
            <button type="submit">Filter</button>
          </div>
          <div class="field">
            <a href={`${base}/runs`}>Clear filters</a>
          </div>
        </form>
        {valid ? null : (
          <Flash kind="error">{problems.cursor ?? problems._ ?? 'Fix the filter marked below the field to list runs.'}</Flash>
        )}
        {valid && rows.length === 0 ? (
          <Empty>
            {cursor
              ? 'No older runs match.'
              : status
                ? `No ${status} run.`
                : 'No run yet: a run starts when an event the trigger matches arrives. Try the workflow on a stored event with a dry run on its page.'}
          </Empty>
        ) : null}
        {rows.length > 0 ? (
          <div class="table-wrap">
            <table class="runs workflow-runs">
              <caption class="visually-hidden">Runs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Started (UTC)</th>
                  <th scope="col">Status</th>
                  <th scope="col">Event</th>
                  <th scope="col">Customer</th>
                  <th scope="col" class="num">
                    Version
                  </th>
                  <th scope="col" class="num">
                    Duration
                  </th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr id={`run-${r.id}`}>
                    <td>
                      <a href={`${base}/runs/${r.id}`}>
                        <Time at={r.createdAt} />
                      </a>
                    </td>
                    <td>
                      <WorkflowRunBadge status={r.status} />
                      {r.attempt > 1 ? <small class="muted"> (retried)</small> : null}
                    </td>
                    <td>
                      <TriggerEvent ws={ws} run={r} />
                    </td>
                    <td>
                      <Customer ws={ws} id={r.customerId} labels={labels} />
                    </td>
                    <td class="num">{r.version}</td>
                    <td class="num">{duration(span(r.createdAt, r.finishedAt))}</td>
                    <td class="run-error">{r.error ? <small>{r.error}</small> : <span class="muted">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <Pager
          what="runs"
          newest={cursor ? `${base}/runs${qs({ status })}` : undefined}
          older={nextCursor ? `${base}/runs${qs({ status, cursor: nextCursor })}` : undefined}
        />
      </Layout>,
      valid ? 200 : 400,
    );
  });

  app.get<{ Params: { ws: string; id: string; run: string } }>('/workspaces/:ws/workflows/:id/runs/:run', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const w = await getWorkflow(ctx, ws, request.params.id);
    const r = await getRun(ctx, ws, request.params.run);
    // A run of another workflow, asked for under this one: shown where it belongs.
    if (r.workflowId !== w.id) return reply.redirect(`/workspaces/${ws}/workflows/${r.workflowId}/runs/${r.id}`);
    const labels = await customerLabels(ctx, ws, r.customerId ? [r.customerId] : []);
    const base = `/workspaces/${ws}/workflows/${w.id}`;
    const frame = page.layout(`Run ${r.id}`, 'workflows');
    const done = q1(request.query, 'done');
    const problem = q1(request.query, 'problem');
    const steps = r.steps ?? [];
    return sendHtml(
      reply,
      <Layout {...frame}>
        <p class="crumbs">
          <a href={base}>{w.name}</a> · <a href={`${base}/runs`}>Run log</a>
        </p>
        <h1>
          Run <code>{r.id}</code> <WorkflowRunBadge status={r.status} />
        </h1>
        {done === 'retried' ? (
          <Flash kind="ok">Retrying: the failed steps run again with their frozen inputs. Reload to follow the run.</Flash>
        ) : null}
        {problem === 'not_failed' ? (
          <Flash kind="error">Not retried: only a failed run can be retried, and this one is {r.status}.</Flash>
        ) : null}
        {r.error ? <Flash kind="error">{r.error}</Flash> : null}
        {r.status === 'failed' && page.role !== 'viewer' ? (
          <form method="post" action={`${base}/runs/${r.id}/retry`} class="actions">
            <input type="hidden" name="_csrf" value={frame.csrf} />
            <button type="submit">Retry</button>
            <span class="muted">Runs the failed steps again with the inputs they had, and the same idempotency keys.</span>
          </form>
        ) : null}
        <dl class="props">
          <dt>Workflow</dt>
          <dd>
            <a href={base}>{w.name}</a> <span class="muted">version {r.version}</span>
          </dd>
          <dt>Event</dt>
          <dd>
            <TriggerEvent ws={ws} run={r} />
          </dd>
          <dt>Customer</dt>
          <dd>
            <Customer ws={ws} id={r.customerId} labels={labels} />
          </dd>
          <dt>Started</dt>
          <dd>
            <Time at={r.createdAt} />
          </dd>
          <dt>Finished</dt>
          <dd>
            <Time at={r.finishedAt} />
          </dd>
          <dt>Duration</dt>
          <dd>{duration(span(r.createdAt, r.finishedAt))}</dd>
          <dt>Attempt</dt>
          <dd>
            {r.attempt} {r.attempt > 1 ? <span class="muted">(retried {r.attempt - 1}×)</span> : null}
          </dd>
          {r.mode !== 'live' ? (
            <>
              <dt>Mode</dt>
              <dd>{r.mode}</dd>
            </>
          ) : null}
        </dl>
        <section aria-labelledby="h-steps">
          <h2 id="h-steps">
            Steps <span class="muted">({steps.length})</span>
          </h2>
          {steps.length === 0 ? (
            <Empty>
              {r.status === 'filtered' ? "No step ran: the trigger's condition was false for this event." : 'No step has started yet.'}
            </Empty>
          ) : (
            <StepTimeline steps={steps} />
          )}
        </section>
      </Layout>,
    );
  });

  app.post<{ Params: { ws: string; id: string; run: string } }>('/workspaces/:ws/workflows/:id/runs/:run/retry', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'Retrying a run');
    const ws = page.workspace.id;
    const target = `/workspaces/${ws}/workflows/${request.params.id}/runs/${request.params.run}`;
    try {
      await retryRun(ctx, ws, request.params.run);
    } catch (err) {
      if ((err as { code?: string }).code !== 'RUN_NOT_FAILED') throw err;
      return reply.redirect(`${target}?problem=not_failed`, 303);
    }
    return reply.redirect(`${target}?done=retried`, 303);
  });

  // A run by its id alone (links from elsewhere): to its page under its workflow.
  app.get<{ Params: { ws: string; run: string } }>('/workspaces/:ws/runs/:run', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const r = await getRun(ctx, page.workspace.id, request.params.run);
    return reply.redirect(`/workspaces/${page.workspace.id}/workflows/${r.workflowId}/runs/${r.id}`);
  });
}
