/** @jsx h */
/** @jsxFrag Fragment */
// Workflows: the list (each with its trigger, whether it is on, its version, its last run and its runs of the last
// 24 hours by status), an empty state that says what a workflow is and where to start, and the "New workflow" page:
// the definition editor prefilled with a small example, with the trigger picker beside it. Saving goes through
// the same service as the API's POST …/workflows: a refused definition is shown again with every problem next to
// it, and nothing is saved.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { createWorkflow } from '../../services/workflows/save-workflow.js';
import { SOURCE_LABELS, TRIGGER_SOURCES, triggerCatalog } from '../../services/workflows/trigger-catalog.js';
import { listWorkflowsWithActivity } from '../../services/workflows/workflow-activity.js';
import { Layout, Time } from '../components/layout.js';
import { EditorForm, EnabledBadge, TriggerSummary, WorkflowRunBadge, RUN_STATUSES, type EditorProblem } from '../components/workflows.js';
import { saveFromEditor } from '../definition-input.js';
import { field } from '../forms.js';
import { h, Fragment, type Html } from '../jsx.js';
import { formatJson } from '../json-text.js';
import { requireRole, requireWorkspace, sendHtml, type WorkspacePage } from '../request.js';

/** What the new-workflow page starts with: small, valid, and harmless if saved as it is. */
export const EXAMPLE_DEFINITION = {
  name: 'Tag customers whose payment failed',
  trigger: { source: 'sluice', object: 'payment', actions: ['failed'] },
  steps: [{ id: 'tag', kind: 'crm.tag', add: ['payment-failed'] }],
};

export const TEMPLATE_NAMES: [string, string][] = [
  ['dunning', 'tag customers whose invoice payment failed and tell Slack; untag when paid'],
  ['course-purchase', 'grant a course when a checkout completes and is paid'],
  ['revoke-on-end', 'revoke access and tell Discord when a subscription ends'],
  ['welcome', 'greet a new customer'],
];

export function sourceOptions(): [string, string][] {
  return TRIGGER_SOURCES.map((s) => [s, SOURCE_LABELS[s]]);
}

/** Runs of the last 24 hours as badges in a fixed order: "12 succeeded", "1 failed". */
function LastDay(props: { counts: Record<string, number> }): Html {
  const present = RUN_STATUSES.filter((s) => (props.counts[s] ?? 0) > 0);
  if (present.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="run-counts">
      {present.map((s) => (
        <li>
          <span class="num">{props.counts[s]!.toLocaleString('en')}</span> <WorkflowRunBadge status={s} />
        </li>
      ))}
    </ul>
  );
}

function NewPage(props: {
  page: WorkspacePage;
  ws: string;
  text: string;
  problems: EditorProblem[];
  enabled: boolean;
  catalog: Awaited<ReturnType<typeof triggerCatalog>>;
}): Html {
  const { page, ws } = props;
  const frame = page.layout('New workflow', 'workflows');
  return (
    <Layout {...frame} scripts={['workflow-editor.js']}>
      <p class="crumbs">
        <a href={`/workspaces/${ws}/workflows`}>All workflows</a>
      </p>
      <h1>New workflow</h1>
      <p class="lead muted">
        One trigger (which events start it) and a list of steps (what it does). Conditions and values are CEL expressions;{' '}
        <code>{'{{ … }}'}</code> inside a string is a template. The reference is <code>docs/workflows.md</code>; ready-made definitions are
        in <code>templates/workflows/</code>.
      </p>
      <EditorForm
        action={`/workspaces/${ws}/workflows`}
        csrf={frame.csrf}
        text={props.text}
        problems={props.problems}
        readOnly={false}
        catalog={props.catalog}
        sources={sourceOptions()}
        submitLabel="Create workflow"
        extra={
          <div class="field checkbox">
            <label>
              <input type="checkbox" name="enabled" value="on" checked={props.enabled} /> Enabled: events start runs as soon as it is saved
            </label>
          </div>
        }
      />
    </Layout>
  );
}

export async function workflowsPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string } }>('/workspaces/:ws/workflows', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const { data } = await listWorkflowsWithActivity(ctx, ws);
    // Only admins write definitions (they can send the workspace's secrets, email and access anywhere).
    const editor = page.role === 'admin';
    return sendHtml(
      reply,
      <Layout {...page.layout('Workflows', 'workflows')}>
        <h1>Workflows</h1>
        <p class="lead muted">
          Workflows act on events: grant a course when a checkout completes, tag a customer whose payment failed, tell Slack, revoke access
          when a subscription ends. Each event starts at most one run of each workflow, however often it is delivered.
        </p>
        {editor ? (
          <div class="actions">
            <a class="button" href={`/workspaces/${ws}/workflows/new`}>
              New workflow
            </a>
          </div>
        ) : null}
        {data.length === 0 ? (
          <div class="empty empty-workflows">
            <p>
              <strong>No workflow yet.</strong> A workflow is a trigger — which events start it (a Stripe checkout session completed, a
              subscription canceled from either provider, your own custom event) — and steps: HTTP requests, Slack or Discord messages,
              customer tags and attributes, access grants and revokes, webhooks to your endpoints, delays. Every run is recorded with what
              each step received and answered.
            </p>
            <p>
              {editor ? (
                <>
                  <a href={`/workspaces/${ws}/workflows/new`}>Create a workflow</a> from a small example, or start from a template:{' '}
                </>
              ) : (
                'Templates to start from: '
              )}
              the definitions in <code>templates/workflows/</code>, described under “Templates” in <code>docs/workflows.md</code>:
            </p>
            <ul class="templates">
              {TEMPLATE_NAMES.map(([name, what]) => (
                <li>
                  <code>{name}.json</code> <span class="muted">— {what}</span>
                </li>
              ))}
            </ul>
          </div>
        ) : (
          <div class="table-wrap">
            <table class="workflows">
              <caption class="visually-hidden">Workflows, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Workflow</th>
                  <th scope="col">Status</th>
                  <th scope="col">Trigger</th>
                  <th scope="col" class="num">
                    Version
                  </th>
                  <th scope="col">Last run (UTC)</th>
                  <th scope="col">Runs (24 h)</th>
                </tr>
              </thead>
              <tbody>
                {data.map((w) => (
                  <tr id={`workflow-${w.id}`}>
                    <td>
                      <a href={`/workspaces/${ws}/workflows/${w.id}`}>{w.name}</a>
                      <br />
                      <small>
                        <a href={`/workspaces/${ws}/workflows/${w.id}/runs`} aria-label={`Run log of ${w.name}`}>
                          Run log
                        </a>
                      </small>
                    </td>
                    <td>
                      <EnabledBadge enabled={w.enabled} />
                    </td>
                    <td>
                      <TriggerSummary trigger={w.trigger} withCondition={false} />
                      {(w.trigger as { if?: unknown } | null)?.if ? <small class="muted"> (with a condition)</small> : null}
                    </td>
                    <td class="num">{w.version}</td>
                    <td class="last-run">
                      {w.lastRun ? (
                        <>
                          <WorkflowRunBadge status={w.lastRun.status} />{' '}
                          <a href={`/workspaces/${ws}/workflows/${w.id}/runs/${w.lastRun.id}`}>
                            <Time at={w.lastRun.createdAt} />
                          </a>
                        </>
                      ) : (
                        <span class="muted">no run yet</span>
                      )}
                    </td>
                    <td>
                      <LastDay counts={w.lastDay} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Layout>,
    );
  });

  app.get<{ Params: { ws: string } }>('/workspaces/:ws/workflows/new', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Creating a workflow');
    const catalog = await triggerCatalog(ctx, page.workspace.id);
    return sendHtml(
      reply,
      <NewPage page={page} ws={page.workspace.id} text={formatJson(EXAMPLE_DEFINITION)} problems={[]} enabled={true} catalog={catalog} />,
    );
  });

  app.post<{ Params: { ws: string } }>('/workspaces/:ws/workflows', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Creating a workflow');
    const ws = page.workspace.id;
    const text = field(request.body, 'definition') ?? '';
    const enabled = field(request.body, 'enabled') === 'on';
    // The box says whether it starts enabled, unless the definition itself says so.
    const saved = await saveFromEditor(text, (d) => createWorkflow(ctx, ws, 'enabled' in d ? d : { ...d, enabled }, page.principal));
    if (saved.ok) return reply.redirect(`/workspaces/${ws}/workflows/${saved.value.id}?done=created`, 303);
    const catalog = await triggerCatalog(ctx, ws);
    return sendHtml(reply, <NewPage page={page} ws={ws} text={text} problems={saved.problems} enabled={enabled} catalog={catalog} />, 422);
  });
}
