/** @jsx h */
/** @jsxFrag Fragment */
// Endpoints: the workspace's outbound endpoints with their status and a sparkline of recent deliveries, and the
// form that creates one (admin). The detail page, deliveries, messages and REST Hooks are in their own modules.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { createEndpoint } from '../../services/outbound/create-endpoint.js';
import { recentOutcomes } from '../../services/outbound/endpoint-activity.js';
import { listEndpoints } from '../../services/outbound/endpoint-read.js';
import { eventTypeChoices } from '../../services/outbound/event-type-choices.js';
import { Empty, Field, Flash, Layout } from '../components/layout.js';
import { EndpointStatus, EventTypes, Pager, pickedTypes, q1, qs, Sparkline, TypePicker } from '../components/outbound.js';
import { field, fields, problemsOf } from '../forms.js';
import { h, Fragment } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml } from '../request.js';

interface NewEndpointForm {
  url?: string;
  description?: string;
  types: string[];
  moreTypes?: string;
}

export async function endpointsPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  const render = async (
    request: FastifyRequest<{ Params: { ws: string } }>,
    reply: FastifyReply,
    form?: { values: NewEndpointForm; problems: Record<string, string> },
  ) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const cursor = q1(request.query, 'cursor');
    const list = await listEndpoints(ctx, ws, { kind: 'endpoint', cursor }, { withStats: false });
    const sparks = await recentOutcomes(
      ctx,
      list.data.map((e) => e.id),
    );
    const isAdmin = page.role === 'admin';
    const choices = isAdmin ? await eventTypeChoices(ctx, ws) : undefined;
    const frame = page.layout('Endpoints', 'endpoints');
    const p = form?.problems ?? {};
    const v = form?.values ?? { types: [] };
    return sendHtml(
      reply,
      <Layout {...frame}>
        <h1>Endpoints</h1>
        <p class="muted">
          Where Sluice sends business, raw and custom events, signed with Standard Webhooks. See also{' '}
          <a href={`/workspaces/${ws}/messages`}>the messages sent</a> and{' '}
          <a href={`/workspaces/${ws}/hooks`}>REST Hooks subscriptions (Zapier, Make, n8n)</a>.
        </p>
        {list.data.length === 0 ? (
          <Empty>No endpoint yet{isAdmin ? ': add the first one below.' : '. An admin can add one.'}</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Description</th>
                  <th scope="col">Status</th>
                  <th scope="col">Event types</th>
                  <th scope="col">Recent deliveries</th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((e) => (
                  <tr>
                    <td class="url">
                      <a href={`/workspaces/${ws}/endpoints/${e.id}`}>{e.url}</a>
                    </td>
                    <td>{e.description ?? <span class="muted">—</span>}</td>
                    <td>
                      <EndpointStatus endpoint={e} />
                    </td>
                    <td>
                      <EventTypes types={e.eventTypes} />
                    </td>
                    <td>
                      <Sparkline outcomes={sparks.get(e.id) ?? []} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          what="endpoints"
          newest={cursor ? `/workspaces/${ws}/endpoints` : undefined}
          older={list.nextCursor ? `/workspaces/${ws}/endpoints${qs({ cursor: list.nextCursor })}` : undefined}
        />
        {isAdmin && choices ? (
          <section aria-labelledby="new-endpoint">
            <h2 id="new-endpoint">New endpoint</h2>
            {p._ ? <Flash kind="error">{p._}</Flash> : null}
            <form method="post" action={`/workspaces/${ws}/endpoints`} class="endpoint-form">
              <input type="hidden" name="_csrf" value={frame.csrf} />
              <Field
                label="URL"
                name="url"
                type="url"
                value={v.url}
                error={p.url}
                required
                placeholder="https://example.com/webhooks/sluice"
                hint="https; plain http only for addresses listed in SLUICE_OUTBOUND_ALLOW."
              />
              <Field
                label="Description"
                name="description"
                value={v.description}
                error={p.description}
                hint="Optional: who receives this."
              />
              <TypePicker idPrefix="new" choices={choices} selected={v.types} other={v.moreTypes} error={p.eventTypes ?? p.types} />
              <button type="submit">Create endpoint</button>
            </form>
          </section>
        ) : null}
      </Layout>,
      form ? 400 : 200,
    );
  };

  app.get<{ Params: { ws: string } }>('/workspaces/:ws/endpoints', async (request, reply) => render(request, reply));

  app.post<{ Params: { ws: string } }>('/workspaces/:ws/endpoints', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Creating an endpoint');
    const values: NewEndpointForm = {
      url: field(request.body, 'url') ?? '',
      description: field(request.body, 'description') ?? '',
      types: fields(request.body, 'types'),
      moreTypes: field(request.body, 'moreTypes') ?? '',
    };
    try {
      const created = await createEndpoint(
        ctx,
        page.workspace.id,
        {
          url: values.url,
          description: values.description?.trim() ? values.description : undefined,
          eventTypes: pickedTypes(values.types, values.moreTypes),
        },
        'endpoint',
        {},
        page.principal,
      );
      return reply.redirect(`/workspaces/${page.workspace.id}/endpoints/${created.id}?done=created`, 303);
    } catch (err) {
      const problems = problemsOf(err);
      if (!problems) throw err;
      return render(request, reply, { values, problems });
    }
  });
}
