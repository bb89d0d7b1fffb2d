/** @jsx h */
/** @jsxFrag Fragment */
// REST Hooks: the subscriptions Zapier, Make or n8n created through the API (one event type each), with their
// state; an admin may remove one (the platform re-subscribes when its flow is turned on again).
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { deleteEndpoint } from '../../services/outbound/delete-endpoint.js';
import { recentOutcomes } from '../../services/outbound/endpoint-activity.js';
import { listEndpoints } from '../../services/outbound/endpoint-read.js';
import { Empty, Flash, Layout, Time } from '../components/layout.js';
import { EndpointStatus, Pager, q1, qs, Sparkline } from '../components/outbound.js';
import { h, Fragment } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml } from '../request.js';

export async function hooksPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string } }>('/workspaces/:ws/hooks', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const cursor = q1(request.query, 'cursor');
    const list = await listEndpoints(ctx, ws, { kind: 'hook', cursor }, { withStats: false });
    const sparks = await recentOutcomes(
      ctx,
      list.data.map((e) => e.id),
    );
    const frame = page.layout('REST Hooks', 'endpoints');
    const admin = page.role === 'admin';
    return sendHtml(
      reply,
      <Layout {...frame}>
        <p class="crumbs">
          <a href={`/workspaces/${ws}/endpoints`}>All endpoints</a>
        </p>
        <h1>REST Hooks subscriptions</h1>
        <p class="muted">
          Zapier, Make and n8n subscribe here through the API (<code>POST /api/v1/workspaces/{ws}/hooks</code>) when a flow is turned on,
          and unsubscribe when it is turned off.
        </p>
        {q1(request.query, 'done') === 'deleted' ? <Flash kind="ok">Subscription removed.</Flash> : null}
        {list.data.length === 0 ? (
          <Empty>No REST Hooks subscription.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Target URL</th>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Recent deliveries</th>
                  <th scope="col">Subscribed</th>
                  {admin ? <th scope="col">Action</th> : null}
                </tr>
              </thead>
              <tbody>
                {list.data.map((e) => (
                  <tr>
                    <td class="url">
                      <a href={`/workspaces/${ws}/endpoints/${e.id}`}>{e.url}</a>
                    </td>
                    <td>
                      <code>{e.eventTypes[0] ?? '*'}</code>
                    </td>
                    <td>
                      <EndpointStatus endpoint={e} />
                    </td>
                    <td>
                      <Sparkline outcomes={sparks.get(e.id) ?? []} />
                    </td>
                    <td>
                      <Time at={e.createdAt} />
                    </td>
                    {admin ? (
                      <td>
                        <form method="post" action={`/workspaces/${ws}/hooks/${e.id}/delete`} class="inline">
                          <input type="hidden" name="_csrf" value={frame.csrf} />
                          <button type="submit" class="danger small" aria-label={`Delete subscription ${e.id}`}>
                            Delete
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
          what="subscriptions"
          newest={cursor ? `/workspaces/${ws}/hooks` : undefined}
          older={list.nextCursor ? `/workspaces/${ws}/hooks${qs({ cursor: list.nextCursor })}` : undefined}
        />
      </Layout>,
    );
  });

  app.post<{ Params: { ws: string; id: string } }>('/workspaces/:ws/hooks/:id/delete', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'admin', 'Deleting a REST Hooks subscription');
    await deleteEndpoint(ctx, page.workspace.id, request.params.id, 'hook');
    return reply.redirect(`/workspaces/${page.workspace.id}/hooks?done=deleted`, 303);
  });
}
