/** @jsx h */
/** @jsxFrag Fragment */
// One endpoint: what it is and how it is doing, its deliveries (filters, keyset pages, retry one, retry all the
// filter matches), and what may be done to it by role: admin edits, enables or disables, reveals and rotates the
// signing secret (both audit-logged by the service); member sends a test event, recovers, retries. A secret revealed
// or rotated is kept server-side and the POST redirects (303) to ?done=revealed|rotated&once=<id>: the first GET of
// that address shows it, a reload says it was shown once (and reveals or rotates nothing).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BUSINESS_EVENT_TYPES, TEST_EVENT_TYPE } from '../../catalog/index.js';
import type { Ctx } from '../../services/context.js';
import { BULK_RETRY_LIMIT, bulkRetryDeliveries, countRetryable } from '../../services/outbound/bulk-retry-deliveries.js';
import { listDeliveries } from '../../services/outbound/delivery-read.js';
import { recentOutcomes } from '../../services/outbound/endpoint-activity.js';
import { findEndpointView } from '../../services/outbound/endpoint-read.js';
import { eventTypeChoices } from '../../services/outbound/event-type-choices.js';
import { recoverDeliveries } from '../../services/outbound/recover-deliveries.js';
import { revealEndpointSecret } from '../../services/outbound/reveal-endpoint-secret.js';
import { rotateEndpointSecret } from '../../services/outbound/rotate-endpoint-secret.js';
import { sendTestEvent } from '../../services/outbound/send-test-event.js';
import { updateEndpoint } from '../../services/outbound/update-endpoint.js';
import { keepForReveal, takeRevealed, type RevealValues } from '../../services/users/console-reveals.js';
import { CopyValue, Empty, Field, Flash, Layout, Time } from '../components/layout.js';
import {
  DeliveryStatus,
  EndpointStatus,
  EventTypes,
  Pager,
  pickedTypes,
  q1,
  qs,
  Sparkline,
  TypePicker,
  utcInput,
} from '../components/outbound.js';
import { field, fields, problemsOf } from '../forms.js';
import { h, Fragment, type Html } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml, type WorkspacePage } from '../request.js';

type Params = { ws: string; id: string };

interface DetailState {
  edit?: { url: string; description: string; types: string[]; moreTypes: string; problems: Record<string, string> };
  recover?: { since: string; problem?: string };
  test?: { type: string; problem?: string };
  flash?: { kind: 'ok' | 'error' | 'info'; text: string };
}

const COUNT = /^\d{1,7}$/;
const ID = /^[a-z]+_[0-9a-z]{24}$/;

/** The notice after a change that redirected here: built from fixed sentences and checked numbers/ids only. */
function flashOf(query: unknown): DetailState['flash'] {
  const done = q1(query, 'done');
  const n = (name: string) => {
    const v = q1(query, name);
    return v && COUNT.test(v) ? Number(v) : 0;
  };
  switch (done) {
    case 'created':
      return { kind: 'ok', text: 'Endpoint created. Its signing secret can be revealed below (admins only).' };
    case 'updated':
      return { kind: 'ok', text: 'Changes saved.' };
    case 'rotated':
      return { kind: 'ok', text: 'Secret rotated.' };
    case 'enabled':
      return { kind: 'ok', text: 'Endpoint enabled: deliveries go out again.' };
    case 'disabled':
      return { kind: 'ok', text: 'Endpoint disabled: no deliveries are made for it until it is enabled (recover resends what it missed).' };
    case 'test': {
      const msg = q1(query, 'msg');
      return { kind: 'ok', text: `Test event sent${msg && ID.test(msg) ? ` (message ${msg})` : ''}: it appears in the deliveries below.` };
    }
    case 'recovered':
      return { kind: 'ok', text: `Recovery queued ${n('requeued')} failed and ${n('created')} missed deliveries.` };
    case 'retried': {
      const d = q1(query, 'delivery');
      return { kind: 'ok', text: `Delivery ${d && ID.test(d) ? d : ''} queued for another attempt now.` };
    }
    case 'bulk':
      return {
        kind: 'ok',
        text:
          `Queued ${n('queued')} deliveries for another attempt` +
          (n('inflight') > 0 ? `; ${n('inflight')} were being attempted right now and were left alone` : '') +
          (q1(query, 'more') === '1' ? `. More match the filter: retry again for the next ${BULK_RETRY_LIMIT.toLocaleString('en')}.` : '.'),
      };
    default:
      return undefined;
  }
}

function DeliveriesSection(props: {
  page: WorkspacePage;
  csrf: string | undefined;
  endpointId: string;
  list: Awaited<ReturnType<typeof listDeliveries>>;
  filter: { status?: string; type?: string; cursor?: string };
  matching: number | undefined;
}): Html {
  const ws = props.page.workspace.id;
  const base = `/workspaces/${ws}/endpoints/${props.endpointId}`;
  const member = props.page.role !== 'viewer';
  const f = props.filter;
  return (
    <section aria-labelledby="deliveries">
      <h2 id="deliveries">Deliveries</h2>
      <form method="get" action={base} class="filters">
        <div class="field">
          <label for="f-status">Status</label>
          <select id="f-status" name="status">
            {[
              ['', 'Any status'],
              ['pending', 'Pending or retrying'],
              ['succeeded', 'Succeeded'],
              ['failed', 'Failed'],
            ].map(([value, label]) => (
              <option value={value} selected={(f.status ?? '') === value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-type">Event type</label>
          <input id="f-type" name="type" type="text" value={f.type} placeholder="subscription.canceled" />
        </div>
        <button type="submit" class="secondary">
          Filter
        </button>
      </form>
      {member && props.matching !== undefined && props.matching > 0 ? (
        <form method="post" action={`${base}/deliveries/retry`} class="bulk">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <input type="hidden" name="status" value={f.status ?? ''} />
          <input type="hidden" name="type" value={f.type ?? ''} />
          <p id="bulk-count">
            {props.matching > BULK_RETRY_LIMIT ? `More than ${BULK_RETRY_LIMIT.toLocaleString('en')}` : props.matching}{' '}
            {props.matching === 1 ? 'delivery matches' : 'deliveries match'} this filter. Retrying sends them again now, the newest{' '}
            {BULK_RETRY_LIMIT.toLocaleString('en')} at most per click.
          </p>
          <button type="submit" class="secondary" aria-describedby="bulk-count">
            Retry {Math.min(props.matching, BULK_RETRY_LIMIT).toLocaleString('en')} matching{' '}
            {props.matching === 1 ? 'delivery' : 'deliveries'}
          </button>
        </form>
      ) : null}
      {props.list.data.length === 0 ? (
        <Empty>{f.status || f.type ? 'No delivery matches this filter.' : 'No delivery yet: send a test event to see one.'}</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Delivery</th>
                <th scope="col">Event type</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col" class="num">
                  Last answer
                </th>
                <th scope="col">Created</th>
                <th scope="col">Next attempt</th>
                {member ? <th scope="col">Action</th> : null}
              </tr>
            </thead>
            <tbody>
              {props.list.data.map((d) => (
                <tr>
                  <td>
                    <a href={`/workspaces/${ws}/deliveries/${d.id}`}>
                      <code>{d.id}</code>
                    </a>
                  </td>
                  <td>
                    <code>{d.messageType}</code>
                  </td>
                  <td>
                    <DeliveryStatus status={d.status} attempts={d.attempts} />
                  </td>
                  <td class="num">{d.attempts}</td>
                  <td class="num">{d.lastStatusCode ?? (d.lastError ? 'error' : '—')}</td>
                  <td>
                    <Time at={d.createdAt} />
                  </td>
                  <td>
                    <Time at={d.nextAttemptAt} />
                  </td>
                  {member ? (
                    <td>
                      <form method="post" action={`/workspaces/${ws}/deliveries/${d.id}/retry`} class="inline">
                        <input type="hidden" name="_csrf" value={props.csrf} />
                        <input type="hidden" name="back" value="endpoint" />
                        <button type="submit" class="secondary small" aria-label={`Retry delivery ${d.id}`}>
                          Retry
                        </button>
                      </form>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        what="deliveries"
        newest={f.cursor ? `${base}${qs({ status: f.status, type: f.type })}#deliveries` : undefined}
        older={
          props.list.nextCursor ? `${base}${qs({ status: f.status, type: f.type, cursor: props.list.nextCursor })}#deliveries` : undefined
        }
      />
    </section>
  );
}

export async function endpointDetailPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  const render = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, state: DetailState = {}, status = 200) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const endpoint = await findEndpointView(ctx, ws, request.params.id);
    const base = `/workspaces/${ws}/endpoints/${endpoint.id}`;
    // Filters come from the query of a GET; a POST re-rendering the page (a problem) shows the first page.
    const fromQuery = request.method === 'GET' ? request.query : {};
    const filter = { status: q1(fromQuery, 'status'), type: q1(fromQuery, 'type'), cursor: q1(fromQuery, 'cursor') };
    let list: Awaited<ReturnType<typeof listDeliveries>>;
    let filterProblem: string | undefined;
    try {
      list = await listDeliveries(ctx, ws, { limit: '25', ...filter }, endpoint.id);
    } catch (err) {
      const problems = problemsOf(err);
      if (!problems) throw err;
      filterProblem = Object.values(problems)[0];
      list = { data: [], nextCursor: null };
    }
    const member = page.role !== 'viewer';
    const admin = page.role === 'admin';
    const matching = member && !filterProblem ? await countRetryable(ctx, ws, endpoint.id, filter) : undefined;
    const sparks = await recentOutcomes(ctx, [endpoint.id]);
    const choices = admin ? await eventTypeChoices(ctx, ws) : undefined;
    const frame = page.layout(endpoint.description ?? 'Endpoint', 'endpoints');
    const flash = state.flash ?? flashOf(request.query);
    // The secret a reveal or rotation of this session kept for this page, once; this address again finds nothing.
    const done = request.method === 'GET' ? q1(request.query, 'done') : undefined;
    let secret: RevealValues['endpoint-secret'] | undefined;
    let secretShownOnce: 'revealed' | 'rotated' | undefined;
    if (admin && (done === 'revealed' || done === 'rotated')) {
      secret = await takeRevealed(ctx, page.session.tokenHash, 'endpoint-secret', `${ws}/${endpoint.id}`, q1(request.query, 'once'));
      if (!secret) secretShownOnce = done;
    }
    const edit = state.edit;
    const title = endpoint.kind === 'hook' ? 'REST Hooks subscription' : 'Endpoint';
    return sendHtml(
      reply,
      <Layout {...frame}>
        <p class="crumbs">
          <a href={`/workspaces/${ws}/endpoints`}>All endpoints</a>
        </p>
        <h1>
          {title}
          {endpoint.description ? `: ${endpoint.description}` : ''}
        </h1>
        {flash ? <Flash kind={flash.kind}>{flash.text}</Flash> : null}
        {filterProblem ? <Flash kind="error">{filterProblem}</Flash> : null}
        <dl class="props">
          <dt>URL</dt>
          <dd>
            <code>{endpoint.url}</code>
          </dd>
          <dt>Status</dt>
          <dd>
            <EndpointStatus endpoint={endpoint} />
            {endpoint.disabledReason ? <span class="muted"> {endpoint.disabledReason}</span> : null}
            {endpoint.failingSince ? (
              <span class="muted">
                {' '}
                failing since <Time at={endpoint.failingSince} />
              </span>
            ) : null}
          </dd>
          <dt>Event types</dt>
          <dd>
            <EventTypes types={endpoint.eventTypes} />
          </dd>
          <dt>Recent deliveries</dt>
          <dd>
            <Sparkline outcomes={sparks.get(endpoint.id) ?? []} />
          </dd>
          <dt>Last success</dt>
          <dd>
            <Time at={endpoint.lastSuccessAt} />
          </dd>
          <dt>Id</dt>
          <dd>
            <code>{endpoint.id}</code>
          </dd>
          <dt>Created</dt>
          <dd>
            <Time at={endpoint.createdAt} />
          </dd>
          {endpoint.headerNames.length > 0 ? (
            <>
              <dt>Extra headers</dt>
              <dd>{endpoint.headerNames.join(', ')} (values hidden)</dd>
            </>
          ) : null}
        </dl>

        <div class="endpoint-sections">
          <div class="two">
            <section aria-labelledby="secret" class="card">
              <h2 id="secret">Signing secret</h2>
              {admin ? (
                <>
                  {secret ? (
                    <div id="revealed-secret" data-shown-once>
                      <p>{secret.rotated ? 'New secret (copy it to the receiver):' : 'Current secret:'}</p>
                      <CopyValue value={secret.value} label="signing secret" />
                      {secret.previousExpiresAt ? (
                        <p class="muted">
                          The previous secret also signs until <Time at={secret.previousExpiresAt} />.
                        </p>
                      ) : null}
                      <p class="muted">Shown once: reloading this page does not show it again.</p>
                    </div>
                  ) : secretShownOnce ? (
                    <p class="flash info" role="status">
                      The {secretShownOnce === 'rotated' ? 'new secret' : 'secret'} was shown once and cannot be shown again on this page.
                      To see it again, reveal it (recorded in the audit log).
                    </p>
                  ) : (
                    <p class="muted">Hidden. Revealing or rotating it is recorded in the audit log.</p>
                  )}
                  <div class="actions">
                    <form method="post" action={`${base}/secret/reveal`} class="inline">
                      <input type="hidden" name="_csrf" value={frame.csrf} />
                      <button type="submit" class="secondary">
                        Reveal secret
                      </button>
                    </form>
                    <form method="post" action={`${base}/secret/rotate`} class="inline">
                      <input type="hidden" name="_csrf" value={frame.csrf} />
                      <button type="submit" class="danger">
                        Rotate secret
                      </button>
                    </form>
                  </div>
                  <p class="hint">After a rotation the old secret keeps signing beside the new one for 24 hours.</p>
                </>
              ) : (
                <p class="muted">Only admins can see or rotate the signing secret.</p>
              )}
            </section>

            {member ? (
              <section aria-labelledby="operate" class="card ops">
                <h2 id="operate">Test and recover</h2>
                <form method="post" action={`${base}/test`}>
                  <input type="hidden" name="_csrf" value={frame.csrf} />
                  <div class="field">
                    <label for="f-type-test">Test event type</label>
                    <select
                      id="f-type-test"
                      name="type"
                      aria-invalid={state.test?.problem ? 'true' : undefined}
                      aria-describedby={state.test?.problem ? 'f-type-test-error' : undefined}
                    >
                      {[TEST_EVENT_TYPE, ...BUSINESS_EVENT_TYPES].map((t) => (
                        <option value={t} selected={(state.test?.type ?? TEST_EVENT_TYPE) === t}>
                          {t}
                        </option>
                      ))}
                    </select>
                    {state.test?.problem ? (
                      <small id="f-type-test-error" class="error">
                        {state.test.problem}
                      </small>
                    ) : null}
                  </div>
                  <button type="submit">Send test event</button>
                </form>
                <form method="post" action={`${base}/recover`}>
                  <input type="hidden" name="_csrf" value={frame.csrf} />
                  <Field
                    label="Resend failed and missed deliveries since (UTC)"
                    name="since"
                    type="datetime-local"
                    value={state.recover?.since}
                    error={state.recover?.problem}
                    required
                  />
                  <button type="submit" class="secondary">
                    Recover
                  </button>
                </form>
              </section>
            ) : null}
          </div>

          {admin && choices ? (
            <section aria-labelledby="settings" class="card">
              <h2 id="settings">Settings</h2>
              <div class="actions">
                <form method="post" action={`${base}/state`} class="inline">
                  <input type="hidden" name="_csrf" value={frame.csrf} />
                  {endpoint.state === 'enabled' ? (
                    <>
                      <input type="hidden" name="state" value="disabled" />
                      <button type="submit" class="danger">
                        Disable endpoint
                      </button>
                    </>
                  ) : (
                    <>
                      <input type="hidden" name="state" value="enabled" />
                      <button type="submit">Enable endpoint</button>
                    </>
                  )}
                </form>
              </div>
              <details open={edit ? true : undefined}>
                <summary>Edit URL, description and event types</summary>
                {edit?.problems._ ? <Flash kind="error">{edit.problems._}</Flash> : null}
                <form method="post" action={base}>
                  <input type="hidden" name="_csrf" value={frame.csrf} />
                  <Field label="URL" name="url" type="url" value={edit?.url ?? endpoint.url} error={edit?.problems.url} required />
                  <Field
                    label="Description"
                    name="description"
                    value={edit?.description ?? endpoint.description ?? ''}
                    error={edit?.problems.description}
                  />
                  <TypePicker
                    idPrefix="edit"
                    choices={choices}
                    selected={edit?.types ?? endpoint.eventTypes}
                    other={edit?.moreTypes}
                    error={edit?.problems.eventTypes}
                  />
                  <button type="submit">Save changes</button>
                </form>
              </details>
            </section>
          ) : null}
        </div>

        <DeliveriesSection page={page} csrf={frame.csrf} endpointId={endpoint.id} list={list} filter={filter} matching={matching} />
      </Layout>,
      status,
    );
  };

  const path = '/workspaces/:ws/endpoints/:id';
  app.get<{ Params: Params }>(path, async (request, reply) => render(request, reply));

  const back = (p: Params, query: Record<string, string | undefined>) => `/workspaces/${p.ws}/endpoints/${p.id}${qs(query)}`;

  /** POST/redirect/GET for a secret: kept for this session's next GET of the page, which shows it once. */
  const showOnce = async (
    reply: FastifyReply,
    page: WorkspacePage,
    p: Params,
    done: 'revealed' | 'rotated',
    secret: RevealValues['endpoint-secret'],
  ) => {
    const once = await keepForReveal(ctx, page.session.tokenHash, 'endpoint-secret', `${page.workspace.id}/${p.id}`, secret);
    return reply.redirect(back(p, { done, once }), 303);
  };

  app.post<{ Params: Params }>(path, async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Changing an endpoint');
    const edit = {
      url: field(request.body, 'url') ?? '',
      description: field(request.body, 'description') ?? '',
      types: fields(request.body, 'types'),
      moreTypes: field(request.body, 'moreTypes') ?? '',
    };
    try {
      await updateEndpoint(
        ctx,
        page.workspace.id,
        request.params.id,
        {
          url: edit.url,
          description: edit.description.trim() ? edit.description : null,
          eventTypes: pickedTypes(edit.types, edit.moreTypes),
        },
        page.principal,
      );
    } catch (err) {
      const problems = problemsOf(err);
      if (!problems || (err as { status?: number }).status === 404) throw err;
      return render(request, reply, { edit: { ...edit, problems } }, 400);
    }
    return reply.redirect(back(request.params, { done: 'updated' }), 303);
  });

  app.post<{ Params: Params }>(`${path}/state`, async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Enabling or disabling an endpoint');
    const state = field(request.body, 'state') === 'enabled' ? 'enabled' : 'disabled';
    await updateEndpoint(ctx, page.workspace.id, request.params.id, { state }, page.principal);
    return reply.redirect(back(request.params, { done: state }), 303);
  });

  app.post<{ Params: Params }>(`${path}/secret/reveal`, async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Revealing a signing secret');
    const r = await revealEndpointSecret(ctx, page.principal, page.workspace.id, request.params.id);
    return showOnce(reply, page, request.params, 'revealed', {
      value: r.secret,
      rotated: false,
      previousExpiresAt: r.previousSecretExpiresAt,
    });
  });

  app.post<{ Params: Params }>(`${path}/secret/rotate`, async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Rotating a signing secret');
    const r = await rotateEndpointSecret(ctx, page.principal, page.workspace.id, request.params.id);
    return showOnce(reply, page, request.params, 'rotated', {
      value: r.secret,
      rotated: true,
      previousExpiresAt: r.previousSecretExpiresAt,
    });
  });

  app.post<{ Params: Params }>(`${path}/test`, async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'Sending a test event');
    const type = field(request.body, 'type') || TEST_EVENT_TYPE;
    try {
      const r = await sendTestEvent(ctx, page.workspace.id, request.params.id, { type });
      return reply.redirect(back(request.params, { done: 'test', msg: r.messageId }), 303);
    } catch (err) {
      const problems = problemsOf(err);
      if (!problems || (err as { status?: number }).status === 404) throw err;
      return render(request, reply, { test: { type, problem: Object.values(problems)[0] } }, 400);
    }
  });

  app.post<{ Params: Params }>(`${path}/recover`, async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'Recovering deliveries');
    const since = field(request.body, 'since') ?? '';
    try {
      const r = await recoverDeliveries(ctx, page.workspace.id, request.params.id, { since: utcInput(since) });
      return reply.redirect(back(request.params, { done: 'recovered', requeued: String(r.requeued), created: String(r.created) }), 303);
    } catch (err) {
      const problems = problemsOf(err);
      if (!problems || (err as { status?: number }).status === 404) throw err;
      return render(request, reply, { recover: { since, problem: problems.since ?? Object.values(problems)[0] } }, 400);
    }
  });

  app.post<{ Params: Params }>(`${path}/deliveries/retry`, async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'Retrying deliveries');
    const filter = { status: field(request.body, 'status') || undefined, type: field(request.body, 'type') || undefined };
    const r = await bulkRetryDeliveries(ctx, page.workspace.id, request.params.id, filter);
    return reply.redirect(
      back(request.params, {
        ...filter,
        done: 'bulk',
        queued: String(r.queued),
        inflight: String(r.inFlight),
        more: r.more ? '1' : undefined,
      }) + '#deliveries',
      303,
    );
  });
}
