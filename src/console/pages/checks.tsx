/** @jsx h */
/** @jsxFrag Fragment */
// Checks: the history of check and scan runs (what triggered each, how it went, what it found, how long it took),
// with filters by trigger and status and keyset pages; one run with its findings and, for a scan, where it is
// (phase, progress) and the events it recovered; and "Run checks now" for members and admins.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { customerLabels } from '../../services/crm/customer-labels.js';
import { CHECK_RUN_PREFIX, findingsTotal, type CheckRunView, type FindingView } from '../../services/parity/check-run-view.js';
import { getCheckRun, listCheckRuns, RUN_STATUSES } from '../../services/parity/list-check-runs.js';
import { requestCheck } from '../../services/parity/request-check.js';
import { CHECK_TRIGGERS } from '../../services/parity/run-checks.js';
import { Empty, Flash, Layout, Time } from '../components/layout.js';
import { Pager, q1, qs } from '../components/outbound.js';
import { duration, IdLink, kindLabel, plain, RunStatusBadge, words } from '../components/parity.js';
import { Select } from '../components/select.js';
import { problemsOf } from '../forms.js';
import { h, Fragment, type Html } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml } from '../request.js';

const PAGE_SIZE = 50;

const TRIGGER_LABEL: Record<string, string> = {
  event: 'a change (event)',
  schedule: 'a boundary (schedule)',
  cron: 'the cron route',
  manual: 'by hand',
  scan: 'a scan',
};

/** A count from a run's counts, or a dash when the run did not record it. */
function count(run: CheckRunView, ...names: string[]): string {
  for (const n of names) {
    const v = run.counts[n];
    if (typeof v === 'number') return v.toLocaleString('en');
  }
  return '—';
}

function findingsCount(run: CheckRunView): string {
  return ('findings' in run.counts ? findingsTotal(run.counts) : run.findings.length).toLocaleString('en');
}

function FindingsTable(props: { ws: string; findings: FindingView[]; labels: Map<string, string> }): Html {
  return (
    <div class="table-wrap">
      <table class="findings">
        <caption class="visually-hidden">Findings of this run</caption>
        <thead>
          <tr>
            <th scope="col">Finding</th>
            <th scope="col">Subject</th>
            <th scope="col">Access key</th>
            <th scope="col">Expected</th>
            <th scope="col">Actual</th>
            <th scope="col">Rule</th>
          </tr>
        </thead>
        <tbody>
          {props.findings.map((f) => (
            <tr>
              <td>{kindLabel(f.kind)}</td>
              <td>
                {props.labels.has(f.subject) ? (
                  <a href={`/workspaces/${props.ws}/customers/${f.subject}`}>{props.labels.get(f.subject)}</a>
                ) : f.subject ? (
                  <IdLink ws={props.ws} id={f.subject} runPrefix={CHECK_RUN_PREFIX} />
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
              <td>{f.key ? <code>{f.key}</code> : <span class="muted">—</span>}</td>
              <td>{plain(f.expected)}</td>
              <td>{plain(f.actual)}</td>
              <td>{f.rule ? <small>{f.rule}</small> : <span class="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RunButton(props: { ws: string; csrf: string | undefined }): Html {
  return (
    <form method="post" action={`/workspaces/${props.ws}/checks`} class="inline">
      <input type="hidden" name="_csrf" value={props.csrf} />
      <button type="submit">Run checks now</button>
    </form>
  );
}

export async function checksPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string } }>('/workspaces/:ws/checks', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const values = { trigger: q1(request.query, 'trigger'), status: q1(request.query, 'status') };
    const cursor = q1(request.query, 'cursor');
    const problems: Record<string, string> = {};
    let rows: CheckRunView[] = [];
    let nextCursor: string | null = null;
    // The service checks the filters (the API's rules and words); a problem shows next to its field.
    try {
      const listed = await listCheckRuns(ctx, ws, { ...values, cursor, limit: String(PAGE_SIZE) });
      rows = listed.data;
      nextCursor = listed.nextCursor;
    } catch (err) {
      const p = problemsOf(err);
      if (!p || (err as { status?: number }).status === 404) throw err;
      Object.assign(problems, p);
    }
    const valid = Object.keys(problems).length === 0;
    const member = page.role !== 'viewer';
    const started = q1(request.query, 'started');
    return sendHtml(
      reply,
      <Layout {...page.layout('Checks', 'checks')}>
        <h1>Checks</h1>
        <p class="lead muted">
          Every check of customers' access against what they pay, and every reconciliation scan against Stripe or Piano: what started it,
          how it went and what it found.
        </p>
        {started && started.startsWith(`${CHECK_RUN_PREFIX}_`) && /^[a-z]+_[0-9a-z]{24}$/.test(started) ? (
          <Flash kind="ok">
            Checks started: <a href={`/workspaces/${ws}/checks/${started}`}>run {started}</a>. Reload to follow it.
          </Flash>
        ) : null}
        {member ? (
          <div class="actions">
            <RunButton ws={ws} csrf={page.session.csrfToken} />
            <span class="muted">Checks every customer with access, a live subscription or a live incident.</span>
          </div>
        ) : null}
        <form method="get" action={`/workspaces/${ws}/checks`} class="filters" aria-label="Filter runs">
          <Select
            name="trigger"
            label="Trigger"
            value={values.trigger}
            options={[['', 'Any trigger'], ...CHECK_TRIGGERS.map((t): [string, string] => [t, t])]}
            error={problems.trigger}
          />
          <Select
            name="status"
            label="Status"
            value={values.status}
            options={[['', 'Any status'], ...RUN_STATUSES.map((s): [string, string] => [s, s])]}
            error={problems.status}
          />
          <div class="field">
            <button type="submit">Filter</button>
          </div>
          <div class="field">
            <a href={`/workspaces/${ws}/checks`}>Clear filters</a>
          </div>
        </form>
        {valid ? null : <Flash kind="error">{problems.cursor ?? 'Fix the filters marked below the fields to list runs.'}</Flash>}
        {valid && rows.length === 0 ? (
          <Empty>
            {cursor
              ? 'No older runs match.'
              : values.trigger || values.status
                ? 'No run matches these filters.'
                : 'No check has run yet. Checks run after each change to a customer, at each boundary (a trial or period ending), after each scan, and when asked.'}
          </Empty>
        ) : null}
        {rows.length > 0 ? (
          <div class="table-wrap">
            <table class="runs">
              <caption class="visually-hidden">Check and scan runs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Started (UTC)</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Checked
                  </th>
                  <th scope="col" class="num">
                    Findings
                  </th>
                  <th scope="col" class="num">
                    Opened
                  </th>
                  <th scope="col" class="num">
                    Resolved
                  </th>
                  <th scope="col" class="num">
                    Duration
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr id={`run-${r.id}`}>
                    <td>
                      <a href={`/workspaces/${ws}/checks/${r.id}`}>
                        <Time at={r.startedAt ?? r.createdAt} />
                      </a>
                    </td>
                    <td>{r.kind}</td>
                    <td>{r.trigger}</td>
                    <td>
                      <RunStatusBadge status={r.status} />
                    </td>
                    <td class="num">{count(r, 'checked', 'customers')}</td>
                    <td class="num">{findingsCount(r)}</td>
                    <td class="num">{count(r, 'opened')}</td>
                    <td class="num">{count(r, 'resolved')}</td>
                    <td class="num">{duration(r.durationMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <Pager
          what="runs"
          newest={cursor ? `/workspaces/${ws}/checks${qs(values)}` : undefined}
          older={nextCursor ? `/workspaces/${ws}/checks${qs({ ...values, cursor: nextCursor })}` : undefined}
        />
      </Layout>,
      valid ? 200 : 400,
    );
  });

  app.get<{ Params: { ws: string; id: string } }>('/workspaces/:ws/checks/:id', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const r = await getCheckRun(ctx, ws, request.params.id);
    const labels = await customerLabels(
      ctx,
      ws,
      r.findings.map((f) => f.subject),
    );
    const scan = r.kind === 'scan';
    const progress = r.progress ?? {};
    const otherCounts = Object.entries(r.counts).filter(([k]) => !['checked', 'customers', 'findings', 'opened', 'resolved'].includes(k));
    return sendHtml(
      reply,
      <Layout {...page.layout(`${scan ? 'Scan' : 'Check'} run ${r.id}`, 'checks')}>
        <p class="crumbs">
          <a href={`/workspaces/${ws}/checks`}>All runs</a>
        </p>
        <h1>
          {scan ? 'Scan' : 'Check'} <code>{r.id}</code> <RunStatusBadge status={r.status} />
        </h1>
        {r.error ? <Flash kind="error">{r.error}</Flash> : null}
        <dl class="props">
          <dt>Started by</dt>
          <dd>{TRIGGER_LABEL[r.trigger] ?? r.trigger}</dd>
          <dt>Scope</dt>
          <dd>{Object.keys(r.scope).length === 0 ? 'every customer due' : <ScopeText ws={ws} scope={r.scope} />}</dd>
          <dt>Started</dt>
          <dd>
            <Time at={r.startedAt ?? r.createdAt} />
          </dd>
          <dt>Finished</dt>
          <dd>
            <Time at={r.finishedAt} />
          </dd>
          <dt>Duration</dt>
          <dd>{duration(r.durationMs)}</dd>
          <dt>Customers checked</dt>
          <dd>{count(r, 'checked', 'customers')}</dd>
          <dt>Findings</dt>
          <dd>{findingsCount(r)}</dd>
          <dt>Incidents opened</dt>
          <dd>{count(r, 'opened')}</dd>
          <dt>Incidents resolved</dt>
          <dd>{count(r, 'resolved')}</dd>
          {otherCounts.map(([k, v]) => (
            <>
              <dt>{words(k)}</dt>
              <dd>{typeof v === 'object' && v !== null ? <code>{plain(v)}</code> : plain(v)}</dd>
            </>
          ))}
        </dl>
        {scan ? (
          <section aria-labelledby="h-progress">
            <h2 id="h-progress">Progress</h2>
            {Object.keys(progress).length === 0 ? (
              <Empty>Not started yet.</Empty>
            ) : (
              <dl class="props">
                {Object.entries(progress).map(([k, v]) => (
                  <>
                    <dt>{words(k)}</dt>
                    <dd>{typeof v === 'object' && v !== null ? <code>{plain(v)}</code> : plain(v)}</dd>
                  </>
                ))}
              </dl>
            )}
            <h2 id="h-recovered">
              Recovered events <span class="muted">({r.recoveredEvents.length})</span>
            </h2>
            {r.recoveredEvents.length === 0 ? (
              <Empty>No event was missing: every event the provider has was already here.</Empty>
            ) : (
              <ul class="ids">
                {r.recoveredEvents.slice(0, 200).map((e) => {
                  const ev = recovered(e);
                  return <li>{ev.id ? <a href={`/workspaces/${ws}/events/${ev.id}`}>{ev.type ?? ev.id}</a> : <code>{plain(e)}</code>}</li>;
                })}
                {r.recoveredEvents.length > 200 ? <li class="muted">and {r.recoveredEvents.length - 200} more</li> : null}
              </ul>
            )}
          </section>
        ) : null}
        <section aria-labelledby="h-findings">
          <h2 id="h-findings">
            Findings <span class="muted">({r.findings.length})</span>
          </h2>
          {r.findings.length === 0 ? (
            <Empty>
              {r.status === 'succeeded' ? 'Nothing found: every customer checked has the access they pay for.' : 'No finding yet.'}
            </Empty>
          ) : (
            <FindingsTable ws={ws} findings={r.findings} labels={labels} />
          )}
          {r.findingsTruncated ? (
            <p class="muted">Only the first {r.findings.length} findings are kept with the run; the incidents hold them all.</p>
          ) : null}
        </section>
      </Layout>,
    );
  });

  app.post<{ Params: { ws: string } }>('/workspaces/:ws/checks', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'Running checks');
    const { runId } = await requestCheck(ctx, { workspaceId: page.workspace.id });
    return reply.redirect(`/workspaces/${page.workspace.id}/checks?started=${encodeURIComponent(runId)}`, 303);
  });
}

/** A recovered event as the run recorded it: an id, or an object with an id and a type. */
function recovered(e: unknown): { id?: string; type?: string } {
  const EV = /^ev_[0-9a-z]{24}$/;
  if (typeof e === 'string') return EV.test(e) ? { id: e } : {};
  if (e && typeof e === 'object') {
    const o = e as { id?: unknown; eventId?: unknown; type?: unknown };
    const id = typeof o.id === 'string' ? o.id : typeof o.eventId === 'string' ? o.eventId : undefined;
    return id && EV.test(id) ? { id, ...(typeof o.type === 'string' ? { type: o.type } : {}) } : {};
  }
  return {};
}

function ScopeText(props: { ws: string; scope: Record<string, unknown> }): Html {
  const s = props.scope;
  const parts: (Html | string)[] = [];
  if (typeof s.customerId === 'string')
    parts.push(
      <>
        customer <IdLink ws={props.ws} id={s.customerId} runPrefix={CHECK_RUN_PREFIX} />
      </>,
    );
  if (typeof s.provider === 'string') parts.push(`provider ${s.provider}`);
  if (typeof s.since === 'string') parts.push(`since ${s.since.slice(0, 19).replace('T', ' ')}`);
  if (s.dryRun === true) parts.push('dry run (nothing changed)');
  if (s.customers === 'active') parts.push('every customer with access, a live subscription or a live incident');
  if (s.customers === 'all') parts.push('every customer');
  const rest = Object.keys(s).filter((k) => !['customerId', 'provider', 'since', 'dryRun', 'customers'].includes(k));
  for (const k of rest) parts.push(`${k}: ${plain(s[k])}`);
  return (
    <>
      {parts.map((p, i) => (
        <>
          {i > 0 ? '; ' : ''}
          {p}
        </>
      ))}
    </>
  );
}
