/** @jsx h */
/** @jsxFrag Fragment */
// One event: what arrived (the envelope and the payload as formatted JSON), how processing went, what it did
// (customers linked, CRM rows it last wrote, messages it published), and Replay for members and admins.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import type { Ctx } from '../../services/context.js';
import { eventEffects } from '../../services/processing/event-effects.js';
import { getEvent } from '../../services/processing/list-events.js';
import { replayEvent } from '../../services/processing/replay-event.js';
import { customerLabel, StatusBadge } from '../components/events.js';
import { Empty, Flash, Layout, Time } from '../components/layout.js';
import { h, Fragment, type Html } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml, type WorkspacePage } from '../request.js';

const ID = /^ev_[0-9a-z]{24}$/;
/** Payloads above this are shown cut (the API has the whole of it). */
const SHOWN_PAYLOAD_CHARS = 512 * 1024;

function formatBytes(n: number | null): string {
  if (n === null) return '—';
  return n < 1024 ? `${n} bytes` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

async function renderEvent(ctx: Ctx, page: WorkspacePage, id: string, notice?: Html): Promise<Html> {
  const ws = page.workspace.id;
  const event = await getEvent(ctx, ws, id);
  const effects = await eventEffects(ctx, ws, event);
  const layout = page.layout(`Event ${event.type}`, 'events');
  let payload = event.payload === undefined || event.payload === null ? null : JSON.stringify(event.payload, null, 2);
  const cut = payload !== null && payload.length > SHOWN_PAYLOAD_CHARS;
  if (payload !== null && cut) payload = payload.slice(0, SHOWN_PAYLOAD_CHARS);
  const mayReplay = page.role !== 'viewer';
  return (
    <Layout {...layout}>
      <p>
        <a href={`/workspaces/${ws}/events`}>← All events</a>
      </p>
      <h1>
        {event.type} <StatusBadge status={event.status} />
      </h1>
      {notice}
      {event.error ? (
        <section aria-labelledby="h-error">
          <h2 id="h-error">Processing error</h2>
          <Flash kind="error">{event.error}</Flash>
        </section>
      ) : null}
      <div class="actions">
        {mayReplay ? (
          <form method="post" action={`/workspaces/${ws}/events/${event.id}/replay`} class="inline">
            <input type="hidden" name="_csrf" value={layout.csrf} />
            <button type="submit">Replay</button>
          </form>
        ) : null}
        <span class="muted">
          {mayReplay
            ? 'Replay runs the event through processing again; the CRM only moves forward, and messages already published are not sent twice.'
            : 'Replaying an event needs the member role.'}
        </span>
      </div>
      <div class="two">
        <section aria-labelledby="h-headers">
          <h2 id="h-headers">Stored details</h2>
          <dl class="props">
            <dt>Sluice id</dt>
            <dd>
              <code>{event.id}</code>
            </dd>
            <dt>Provider</dt>
            <dd>{event.provider}</dd>
            <dt>Provider event id</dt>
            <dd>
              <code>{event.providerEventId}</code>
            </dd>
            <dt>Mode</dt>
            <dd>{event.livemode === null ? '—' : event.livemode ? 'live' : 'test'}</dd>
            <dt>Arrived as</dt>
            <dd>{effects.inboundMethod ?? 'POST'} request, signature checked on arrival</dd>
            <dt>Raw body</dt>
            <dd>{effects.rawPrunedAt ? <>pruned by retention on {<Time at={effects.rawPrunedAt} />}</> : formatBytes(effects.rawBytes)}</dd>
          </dl>
        </section>
        <section aria-labelledby="h-processing">
          <h2 id="h-processing">Processing</h2>
          <dl class="props">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={event.status} />
            </dd>
            <dt>Received</dt>
            <dd>
              <Time at={event.receivedAt} />
            </dd>
            <dt>Processed</dt>
            <dd>
              <Time at={event.processedAt} />
            </dd>
            <dt>Attempts</dt>
            <dd>{event.attempts}</dd>
            {event.nextAttemptAt ? (
              <>
                <dt>Next attempt</dt>
                <dd>
                  <Time at={event.nextAttemptAt} />
                </dd>
              </>
            ) : null}
          </dl>
        </section>
      </div>

      <section aria-labelledby="h-crm">
        <h2 id="h-crm">CRM</h2>
        {effects.customers.length === 0 ? (
          <Empty>No customer is linked to this event.</Empty>
        ) : (
          <ul>
            {effects.customers.map((c) => (
              <li>
                <a href={`/workspaces/${ws}/customers/${c.id}`}>{customerLabel(c)}</a> <span class="muted">({c.provider})</span>
              </li>
            ))}
          </ul>
        )}
        {effects.rows.length > 0 ? (
          <div class="table-wrap">
            <table>
              <caption>Rows whose current version this event wrote</caption>
              <thead>
                <tr>
                  <th scope="col">Table</th>
                  <th scope="col">Provider id</th>
                  <th scope="col">Status</th>
                  <th scope="col">Sluice id</th>
                </tr>
              </thead>
              <tbody>
                {effects.rows.map((r) => (
                  <tr>
                    <td>{r.table.replace('_', ' ')}</td>
                    <td>
                      <code>{r.providerId}</code>
                    </td>
                    <td>{r.status ?? '—'}</td>
                    <td>
                      <code>{r.id}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>

      <section aria-labelledby="h-messages">
        <h2 id="h-messages">Messages published</h2>
        {effects.messages.length === 0 ? (
          <Empty>{event.status === 'received' ? 'Not processed yet.' : 'This event published no message.'}</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Message id</th>
                  <th scope="col">Published (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {effects.messages.map((m) => (
                  <tr>
                    <td>
                      {m.type} {m.test ? <span class="badge">test</span> : null}
                    </td>
                    <td>
                      <code>{m.id}</code>
                    </td>
                    <td>
                      <Time at={m.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="h-payload">
        <h2 id="h-payload">Payload</h2>
        {payload === null ? (
          <Empty>The content could not be stored as JSON; the raw bytes are kept for the record.</Empty>
        ) : (
          <>
            {cut ? <p class="muted">Shown up to {SHOWN_PAYLOAD_CHARS / 1024} KiB; the API returns the whole payload.</p> : null}
            <pre tabindex="0" aria-label="Event payload (JSON)">
              <code>{payload}</code>
            </pre>
          </>
        )}
      </section>
    </Layout>
  );
}

export async function eventDetailPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string; id: string }; Querystring: { replayed?: string } }>(
    '/workspaces/:ws/events/:id',
    async (request, reply) => {
      const page = await requireWorkspace(ctx, request, request.params.ws);
      if (!ID.test(request.params.id)) throw new AppError('EVENT_NOT_FOUND', 'there is no event with this id', 404);
      const notice =
        request.query.replayed === '1' ? (
          <Flash kind="ok">
            Replay queued: the event runs again in the background, usually within a second. The status and the processed time below are
            those of its latest run (reload to see the replay once it has run).
          </Flash>
        ) : undefined;
      return sendHtml(reply, await renderEvent(ctx, page, request.params.id, notice));
    },
  );

  app.post<{ Params: { ws: string; id: string } }>('/workspaces/:ws/events/:id/replay', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'Replaying an event');
    if (!ID.test(request.params.id)) throw new AppError('EVENT_NOT_FOUND', 'there is no event with this id', 404);
    try {
      await replayEvent(ctx, page.workspace.id, request.params.id);
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 409) throw err;
      return sendHtml(reply, await renderEvent(ctx, page, request.params.id, <Flash kind="error">{err.message}</Flash>), 409);
    }
    return reply.redirect(`/workspaces/${page.workspace.id}/events/${request.params.id}?replayed=1`, 303);
  });
}
