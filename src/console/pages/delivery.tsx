/** @jsx h */
/** @jsxFrag Fragment */
// One delivery: its attempt timeline (when, answer, how long, what the receiver said, the error, when the next
// attempt is due), the message it carries as formatted JSON, and a retry button (member).
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import type { Ctx } from '../../services/context.js';
import { getDelivery } from '../../services/outbound/delivery-read.js';
import { findEndpointView } from '../../services/outbound/endpoint-read.js';
import { getMessage } from '../../services/outbound/get-message.js';
import { retryDelivery } from '../../services/outbound/retry-delivery.js';
import { Flash, Layout, Time } from '../components/layout.js';
import { DeliveryStatus, q1 } from '../components/outbound.js';
import { field } from '../forms.js';
import { h, Fragment } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml } from '../request.js';

type Params = { ws: string; id: string };

const OUTCOME: Record<string, { label: string; tone: string }> = {
  succeeded: { label: 'succeeded', tone: 'ok' },
  retry: { label: 'failed, will retry', tone: 'warn' },
  failed: { label: 'failed, gave up', tone: 'bad' },
  gone: { label: 'gone (410): endpoint disabled', tone: 'bad' },
};

export async function deliveryPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: Params }>('/workspaces/:ws/deliveries/:id', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const d = await getDelivery(ctx, ws, request.params.id);
    const [endpoint, message] = await Promise.all([
      findEndpointView(ctx, ws, d.endpointId).catch(() => undefined),
      getMessage(ctx, ws, d.messageId),
    ]);
    const frame = page.layout(`Delivery ${d.id}`, 'endpoints');
    const done = q1(request.query, 'done');
    const problem = q1(request.query, 'problem');
    return sendHtml(
      reply,
      <Layout {...frame}>
        <p class="crumbs">
          {endpoint ? (
            <a href={`/workspaces/${ws}/endpoints/${endpoint.id}`}>Endpoint {endpoint.description ?? endpoint.url}</a>
          ) : (
            <a href={`/workspaces/${ws}/endpoints`}>All endpoints</a>
          )}
        </p>
        <h1>
          Delivery <code>{d.id}</code>
        </h1>
        {done === 'retried' ? <Flash kind="ok">Queued for another attempt now; reload to see it in the timeline.</Flash> : null}
        {problem === 'in_flight' ? (
          <Flash kind="error">This delivery is being attempted right now; retry when the attempt is recorded.</Flash>
        ) : null}
        <dl class="props">
          <dt>Status</dt>
          <dd>
            <DeliveryStatus status={d.status} attempts={d.attempts} />
          </dd>
          <dt>Event type</dt>
          <dd>
            <code>{d.messageType}</code>
            {message.test ? <span class="badge warn">test</span> : null}
          </dd>
          <dt>Endpoint</dt>
          <dd>{endpoint ? <code>{endpoint.url}</code> : <span class="muted">deleted</span>}</dd>
          <dt>Message</dt>
          <dd>
            <code>{d.messageId}</code>
          </dd>
          <dt>Attempts</dt>
          <dd>{d.attempts}</dd>
          <dt>Created</dt>
          <dd>
            <Time at={d.createdAt} />
          </dd>
          <dt>Finished</dt>
          <dd>
            <Time at={d.finishedAt} />
          </dd>
          <dt>Next attempt</dt>
          <dd>{d.nextAttemptAt ? <Time at={d.nextAttemptAt} /> : <span class="muted">none scheduled</span>}</dd>
        </dl>
        {page.role !== 'viewer' ? (
          <form method="post" action={`/workspaces/${ws}/deliveries/${d.id}/retry`} class="actions">
            <input type="hidden" name="_csrf" value={frame.csrf} />
            <button type="submit">Retry now</button>
          </form>
        ) : null}

        <h2>Attempts</h2>
        {d.attemptLog.length === 0 ? (
          <p class="empty">
            No attempt yet.{' '}
            {d.nextAttemptAt ? (
              <>
                The first is due at <Time at={d.nextAttemptAt} />.
              </>
            ) : null}
          </p>
        ) : (
          <ol class="timeline">
            {d.attemptLog.map((a, i) => {
              const o = OUTCOME[a.outcome] ?? { label: a.outcome, tone: '' };
              return (
                <li>
                  <h3>
                    Attempt {i + 1}: <span class={`badge ${o.tone}`}>{o.label}</span>
                  </h3>
                  <dl class="props">
                    <dt>Started</dt>
                    <dd>
                      <Time at={a.startedAt} />
                    </dd>
                    <dt>Status code</dt>
                    <dd>{a.statusCode ?? <span class="muted">no answer</span>}</dd>
                    <dt>Duration</dt>
                    <dd>{a.durationMs} ms</dd>
                    {a.error ? (
                      <>
                        <dt>Error</dt>
                        <dd>{a.error}</dd>
                      </>
                    ) : null}
                    <dt>Response</dt>
                    <dd>{a.responseExcerpt ? <pre class="excerpt">{a.responseExcerpt}</pre> : <span class="muted">empty</span>}</dd>
                  </dl>
                </li>
              );
            })}
            {d.nextAttemptAt ? (
              <li class="next">
                <h3>Next attempt</h3>
                <p>
                  Due at <Time at={d.nextAttemptAt} />.
                </p>
              </li>
            ) : null}
          </ol>
        )}

        <h2>Payload</h2>
        <p class="muted">The body every attempt of this delivery sends.</p>
        <pre class="payload" tabindex="0" aria-label="Message payload as JSON">
          <code>{JSON.stringify(message, null, 2)}</code>
        </pre>
      </Layout>,
    );
  });

  app.post<{ Params: Params }>('/workspaces/:ws/deliveries/:id/retry', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'Retrying a delivery');
    const ws = page.workspace.id;
    const toEndpoint = field(request.body, 'back') === 'endpoint';
    try {
      const d = await retryDelivery(ctx, ws, request.params.id);
      const target = toEndpoint
        ? `/workspaces/${ws}/endpoints/${d.endpointId}?done=retried&delivery=${d.id}#deliveries`
        : `/workspaces/${ws}/deliveries/${d.id}?done=retried`;
      return reply.redirect(target, 303);
    } catch (err) {
      if (err instanceof AppError && err.code === 'DELIVERY_IN_FLIGHT') {
        return reply.redirect(`/workspaces/${ws}/deliveries/${request.params.id}?problem=in_flight`, 303);
      }
      throw err;
    }
  });
}
