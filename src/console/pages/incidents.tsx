/** @jsx h */
/** @jsxFrag Fragment */
// Incidents: the inbox a team works through (open and acknowledged by default, filters by status and kind, a GET
// form so a filtered view is a link, keyset pages), one incident with its details (expected vs actual, the rule)
// and its evidence linked to the events, customers and check run, and the verbs by role: a member or an admin
// acknowledges, resolves, ignores or reopens; a viewer reads (no buttons, and the POSTs answer 403).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { customerLabels } from '../../services/crm/customer-labels.js';
import { changeIncident, INCIDENT_ACTIONS, type IncidentAction } from '../../services/incidents/change-incident.js';
import { INCIDENT_KINDS, INCIDENT_STATUSES } from '../../services/incidents/incident-kinds.js';
import type { IncidentView } from '../../services/incidents/incident-view.js';
import { getIncident, listIncidents } from '../../services/incidents/list-incidents.js';
import { Empty, Flash, Layout, Time } from '../components/layout.js';
import { Pager, q1, qs } from '../components/outbound.js';
import { CHECK_RUN_PREFIX, Details, Evidence, IncidentStatusBadge, kindLabel, SeverityBadge, Subject } from '../components/parity.js';
import { Select } from '../components/select.js';
import { field, problemsOf } from '../forms.js';
import { h, Fragment, type Html } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml } from '../request.js';

const PAGE_SIZE = 50;
type IncidentVerb = IncidentAction;
const VERBS: readonly IncidentVerb[] = INCIDENT_ACTIONS;
/** The buttons shown for each status: the actions the service accepts from it (it refuses the others with a 409). */
const VERBS_OF: Record<string, IncidentVerb[]> = {
  open: ['acknowledge', 'resolve', 'ignore'],
  acknowledged: ['resolve', 'ignore'],
  resolved: ['reopen'],
  ignored: ['resolve', 'reopen'],
};
const VERB_LABEL: Record<IncidentVerb, string> = { acknowledge: 'Acknowledge', resolve: 'Resolve', ignore: 'Ignore', reopen: 'Reopen' };
const DONE_TEXT: Record<IncidentVerb, string> = {
  acknowledge: 'Incident acknowledged: it stays in the inbox, out of the open count, until it is resolved.',
  resolve: 'Incident resolved. If the problem is found again, a new incident opens.',
  ignore: 'Incident ignored: the same problem will not open it again until it is reopened.',
  reopen: 'Incident reopened.',
};
const INC_ID = /^inc_[0-9a-z]{24}$/;

interface Filters {
  status?: string | undefined;
  kind?: string | undefined;
  subject?: string | undefined;
}

/** The status filter as the service reads it: none chosen is the inbox (its default, open and acknowledged). */
function statusesOf(status: string | undefined): string | undefined {
  return status === 'all' ? INCIDENT_STATUSES.join(',') : status;
}

/** Where a verb's form returns: the list with its filters, or the incident, of this workspace only. */
function backTo(ws: string, raw: string | undefined, id: string): string {
  const list = `/workspaces/${ws}/incidents`;
  if (raw && (raw === list || raw.startsWith(`${list}?`)) && raw.length < 1000 && !/[\s\\]/.test(raw)) return raw;
  return `${list}/${id}`;
}

function withOutcome(url: string, name: 'done' | 'problem', value: string, id: string): string {
  const [path, query] = url.split('?', 2) as [string, string | undefined];
  const p = new URLSearchParams(query ?? '');
  for (const k of ['done', 'problem', 'incident']) p.delete(k);
  p.set(name, value);
  p.set('incident', id);
  return `${path}?${p.toString()}`;
}

/** The notice after a verb redirected here: fixed sentences, and an id only when it is one. */
function flashOf(query: unknown): Html | null {
  const id = q1(query, 'incident');
  const which = id && INC_ID.test(id) ? <span class="muted"> ({id})</span> : null;
  const problem = q1(query, 'problem');
  if (problem === 'changed' || problem === 'key_live') {
    return (
      <Flash kind="error">
        {problem === 'changed'
          ? 'Nothing changed: the incident was changed meanwhile (by someone else, or by a check). It is shown as it is now.'
          : 'Not reopened: a newer incident of the same problem is live; work on that one.'}
        {which}
      </Flash>
    );
  }
  const done = q1(query, 'done') as IncidentVerb | undefined;
  if (!done || !VERBS.includes(done)) return null;
  return (
    <Flash kind="ok">
      {DONE_TEXT[done]}
      {which}
    </Flash>
  );
}

/** The buttons of one incident, for members and admins; each a form with the CSRF token. */
function Actions(props: { ws: string; incident: IncidentView; csrf: string | undefined; back: string; compact?: boolean }): Html {
  const i = props.incident;
  return (
    <div class="actions incident-actions">
      {(VERBS_OF[i.status] ?? []).map((verb) => (
        <form method="post" action={`/workspaces/${props.ws}/incidents/${i.id}/${verb}`} class="inline">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <input type="hidden" name="back" value={props.back} />
          <button
            type="submit"
            class={`${verb === 'resolve' ? '' : 'secondary'} small`.trim()}
            aria-label={props.compact ? `${VERB_LABEL[verb]} incident: ${i.title}` : undefined}
          >
            {VERB_LABEL[verb]}
          </button>
        </form>
      ))}
    </div>
  );
}

function FilterForm(props: { ws: string; values: Filters; problems: Record<string, string> }): Html {
  const { values, problems } = props;
  return (
    <form method="get" action={`/workspaces/${props.ws}/incidents`} class="filters" aria-label="Filter incidents">
      <Select
        name="status"
        label="Status"
        value={values.status}
        options={[['', 'Open and acknowledged'], ...INCIDENT_STATUSES.map((s): [string, string] => [s, s]), ['all', 'Any status']]}
        error={problems.status}
      />
      <Select
        name="kind"
        label="Kind"
        value={values.kind}
        options={[['', 'Any kind'], ...INCIDENT_KINDS.map((k): [string, string] => [k, kindLabel(k)])]}
        error={problems.kind}
      />
      {values.subject ? <input type="hidden" name="subject" value={values.subject} /> : null}
      <div class="field">
        <button type="submit">Filter</button>
      </div>
      <div class="field">
        <a href={`/workspaces/${props.ws}/incidents`}>Clear filters</a>
      </div>
    </form>
  );
}

export async function incidentsPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string } }>('/workspaces/:ws/incidents', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const q = request.query;
    const values: Filters = { status: q1(q, 'status'), kind: q1(q, 'kind'), subject: q1(q, 'subject')?.trim() || undefined };
    const cursor = q1(q, 'cursor');
    const problems: Record<string, string> = {};
    let rows: IncidentView[] = [];
    let nextCursor: string | null = null;
    // The service checks the filters (the API's own rules and words); a problem shows next to its field.
    try {
      const listed = await listIncidents(ctx, ws, {
        status: statusesOf(values.status),
        kind: values.kind,
        subject: values.subject,
        cursor,
        limit: String(PAGE_SIZE),
      });
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
      rows.map((i) => i.subject),
    );
    const member = page.role !== 'viewer';
    const here = `/workspaces/${ws}/incidents${qs({ status: values.status, kind: values.kind, subject: values.subject, cursor })}`;
    const filtered = Boolean(values.status || values.kind || values.subject);
    return sendHtml(
      reply,
      <Layout {...page.layout('Incidents', 'incidents')}>
        <h1>Incidents</h1>
        <p class="lead muted">
          Problems Sluice found: access that does not match payments, events that are late or stuck, scans that failed, endpoints disabled.
          An incident resolves itself when the next check of its subject is clean.
        </p>
        {flashOf(request.query)}
        <FilterForm ws={ws} values={values} problems={problems} />
        {values.subject ? (
          <p>
            Only incidents about <code>{values.subject}</code>.{' '}
            <a href={`/workspaces/${ws}/incidents${qs({ status: values.status, kind: values.kind })}`}>Show every subject</a>
          </p>
        ) : null}
        {valid ? null : (
          <Flash kind="error">
            {problems.cursor ?? problems.subject ?? problems._ ?? 'Fix the filters marked below the fields to list incidents.'}
          </Flash>
        )}
        {valid && rows.length === 0 ? (
          <Empty>
            {cursor
              ? 'No older incidents match.'
              : filtered
                ? 'No incident matches these filters.'
                : 'No open incident. Everything Sluice checks is as expected.'}
          </Empty>
        ) : null}
        {rows.length > 0 ? (
          <div class="table-wrap">
            <table class="incidents">
              <caption class="visually-hidden">Incidents, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Incident</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Seen
                  </th>
                  <th scope="col">First seen (UTC)</th>
                  <th scope="col">Last seen (UTC)</th>
                  {member ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {rows.map((i) => (
                  <tr id={`incident-${i.id}`}>
                    <td>
                      <SeverityBadge severity={i.severity} />
                    </td>
                    <td>
                      <a href={`/workspaces/${ws}/incidents/${i.id}`}>{i.title}</a>
                      <br />
                      <small class="muted">{kindLabel(i.kind)}</small>
                    </td>
                    <td>
                      <Subject
                        ws={ws}
                        subject={i.subject}
                        kind={i.kind}
                        endpointId={i.endpointId}
                        runPrefix={CHECK_RUN_PREFIX}
                        labels={labels}
                      />
                    </td>
                    <td>
                      <IncidentStatusBadge status={i.status} />
                    </td>
                    <td class="num">{i.occurrences}×</td>
                    <td>
                      <Time at={i.firstSeenAt} />
                    </td>
                    <td>
                      <Time at={i.lastSeenAt} />
                    </td>
                    {member ? (
                      <td>
                        <Actions ws={ws} incident={i} csrf={page.session.csrfToken} back={here} compact />
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <Pager
          what="incidents"
          newest={
            cursor ? `/workspaces/${ws}/incidents${qs({ status: values.status, kind: values.kind, subject: values.subject })}` : undefined
          }
          older={
            nextCursor
              ? `/workspaces/${ws}/incidents${qs({ status: values.status, kind: values.kind, subject: values.subject, cursor: nextCursor })}`
              : undefined
          }
        />
      </Layout>,
      valid ? 200 : 400,
    );
  });

  app.get<{ Params: { ws: string; id: string } }>('/workspaces/:ws/incidents/:id', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const i = await getIncident(ctx, ws, request.params.id);
    const labels = await customerLabels(ctx, ws, [i.subject]);
    const member = page.role !== 'viewer';
    const runPrefix = CHECK_RUN_PREFIX;
    return sendHtml(
      reply,
      <Layout {...page.layout(`Incident: ${i.title}`, 'incidents')}>
        <p class="crumbs">
          <a href={`/workspaces/${ws}/incidents`}>All incidents</a>
        </p>
        <h1>
          {i.title} <SeverityBadge severity={i.severity} /> <IncidentStatusBadge status={i.status} />
        </h1>
        {flashOf(request.query)}
        {member ? <Actions ws={ws} incident={i} csrf={page.session.csrfToken} back={`/workspaces/${ws}/incidents/${i.id}`} /> : null}
        <dl class="props">
          <dt>Kind</dt>
          <dd>{kindLabel(i.kind)}</dd>
          <dt>Subject</dt>
          <dd>
            <Subject ws={ws} subject={i.subject} kind={i.kind} endpointId={i.endpointId} runPrefix={runPrefix} labels={labels} />
            {labels.has(i.subject) ? (
              <>
                {' '}
                <code>{i.subject}</code>
              </>
            ) : null}
          </dd>
          <dt>Seen</dt>
          <dd>
            {i.occurrences} {i.occurrences === 1 ? 'time' : 'times'}
          </dd>
          <dt>First seen</dt>
          <dd>
            <Time at={i.firstSeenAt} />
          </dd>
          <dt>Last seen</dt>
          <dd>
            <Time at={i.lastSeenAt} />
          </dd>
          {i.acknowledgedAt ? (
            <>
              <dt>Acknowledged</dt>
              <dd>
                <Time at={i.acknowledgedAt} /> {i.acknowledgedBy ? <span class="muted">by {i.acknowledgedBy}</span> : null}
              </dd>
            </>
          ) : null}
          {i.ignoredAt ? (
            <>
              <dt>Ignored</dt>
              <dd>
                <Time at={i.ignoredAt} /> {i.ignoredBy ? <span class="muted">by {i.ignoredBy}</span> : null}{' '}
                <span class="muted">(the same problem found again folds in here, silently)</span>
              </dd>
            </>
          ) : null}
          {i.resolvedAt ? (
            <>
              <dt>Resolved</dt>
              <dd>
                <Time at={i.resolvedAt} /> {i.resolvedBy ? <span class="muted">by {i.resolvedBy}</span> : null}
              </dd>
            </>
          ) : null}
          {i.previousId ? (
            <>
              <dt>Earlier incident</dt>
              <dd>
                <a href={`/workspaces/${ws}/incidents/${i.previousId}`}>
                  <code>{i.previousId}</code>
                </a>{' '}
                <span class="muted">(the same problem, resolved before)</span>
              </dd>
            </>
          ) : null}
          <dt>Key</dt>
          <dd>
            <code>{i.dedupKey}</code>
          </dd>
          <dt>Id</dt>
          <dd>
            <code>{i.id}</code>
          </dd>
        </dl>
        <section aria-labelledby="h-details">
          <h2 id="h-details">What was expected, what was found</h2>
          <Details details={i.details} />
        </section>
        <section aria-labelledby="h-evidence">
          <h2 id="h-evidence">Evidence</h2>
          <Evidence ws={ws} evidence={i.evidence} runPrefix={runPrefix} />
        </section>
      </Layout>,
    );
  });

  for (const verb of VERBS) {
    app.post<{ Params: { ws: string; id: string } }>(
      `/workspaces/:ws/incidents/:id/${verb}`,
      async (request: FastifyRequest<{ Params: { ws: string; id: string } }>, reply) => {
        const page = await requireWorkspace(ctx, request, request.params.ws);
        requireRole(page, 'member', `${VERB_LABEL[verb].replace(/e$/, '')}ing an incident`);
        const ws = page.workspace.id;
        const back = backTo(ws, field(request.body, 'back'), request.params.id);
        try {
          await changeIncident(ctx, page.principal, ws, request.params.id, verb);
        } catch (err) {
          // Someone else acted first (two people on one inbox, or a check resolved it): show it as it is now.
          const code = (err as { code?: string }).code;
          if (code !== 'INCIDENT_STATUS_CONFLICT' && code !== 'INCIDENT_KEY_LIVE') throw err;
          return reply.redirect(
            withOutcome(back, 'problem', code === 'INCIDENT_KEY_LIVE' ? 'key_live' : 'changed', request.params.id),
            303,
          );
        }
        return reply.redirect(withOutcome(back, 'done', verb, request.params.id), 303);
      },
    );
  }
}
