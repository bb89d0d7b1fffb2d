/** @jsx h */
/** @jsxFrag Fragment */
// Messages: what Sluice published to endpoints (business events it derived, raw provider events, custom events,
// test events), newest first, by kind, type and start time, with keyset pages that never shift.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { listMessagesOfKind, MESSAGE_KINDS } from '../../services/outbound/list-messages.js';
import { Empty, Flash, Layout, Time } from '../components/layout.js';
import { Pager, q1, qs, utcInput } from '../components/outbound.js';
import { problemsOf } from '../forms.js';
import { h, Fragment } from '../jsx.js';
import { requireWorkspace, sendHtml } from '../request.js';

const KIND_LABEL: Record<string, string> = { business: 'Business', raw: 'Raw provider', custom: 'Custom', test: 'Test' };
const PREVIEW = 4000;

export async function messagesPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string } }>('/workspaces/:ws/messages', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const f = { kind: q1(request.query, 'kind'), type: q1(request.query, 'type'), since: q1(request.query, 'since') };
    const cursor = q1(request.query, 'cursor');
    let problems: Record<string, string> = {};
    let list: Awaited<ReturnType<typeof listMessagesOfKind>> = { data: [], nextCursor: null };
    try {
      list = await listMessagesOfKind(ctx, ws, { ...f, since: utcInput(f.since), cursor, limit: '50' });
    } catch (err) {
      const p = problemsOf(err);
      if (!p) throw err;
      problems = p;
    }
    const base = `/workspaces/${ws}/messages`;
    const error = (name: string) =>
      problems[name] ? (
        <small id={`f-${name}-error`} class="error">
          {problems[name]}
        </small>
      ) : null;
    return sendHtml(
      reply,
      <Layout {...page.layout('Messages', 'messages')}>
        <h1>Messages</h1>
        <p class="muted">
          Every message published to <a href={`/workspaces/${ws}/endpoints`}>the endpoints</a>, newest first.
        </p>
        <form method="get" action={base} class="filters">
          <div class="field">
            <label for="f-kind">Kind</label>
            <select id="f-kind" name="kind" aria-describedby={problems.kind ? 'f-kind-error' : undefined}>
              <option value="">Every kind</option>
              {MESSAGE_KINDS.map((k) => (
                <option value={k} selected={f.kind === k}>
                  {KIND_LABEL[k]}
                </option>
              ))}
            </select>
            {error('kind')}
          </div>
          <div class="field">
            <label for="f-type">Event type</label>
            <input
              id="f-type"
              name="type"
              type="text"
              value={f.type}
              placeholder="subscription.*"
              aria-invalid={problems.type ? 'true' : undefined}
              aria-describedby={problems.type ? 'f-type-error' : undefined}
            />
            {error('type')}
          </div>
          <div class="field">
            <label for="f-since">Since (UTC)</label>
            <input
              id="f-since"
              name="since"
              type="datetime-local"
              value={f.since}
              aria-invalid={problems.since ? 'true' : undefined}
              aria-describedby={problems.since ? 'f-since-error' : undefined}
            />
            {error('since')}
          </div>
          <button type="submit" class="secondary">
            Filter
          </button>
        </form>
        {problems._ ? <Flash kind="error">{problems._}</Flash> : null}
        {list.data.length === 0 ? (
          <Empty>{f.kind || f.type || f.since ? 'No message matches this filter.' : 'No message published yet.'}</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Published</th>
                  <th scope="col">Type</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Source</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((m) => {
                  const json = JSON.stringify(m.data, null, 2);
                  return (
                    <tr>
                      <td>
                        <Time at={m.timestamp} />
                      </td>
                      <td>
                        <code>{m.type}</code>
                      </td>
                      <td>
                        <span class={`badge${m.kind === 'test' ? ' warn' : ''}`}>{KIND_LABEL[m.kind]}</span>
                      </td>
                      <td>
                        {m.source ? (
                          <>
                            {m.source.provider} <code>{m.source.eventId ?? ''}</code>
                          </>
                        ) : (
                          <span class="muted">—</span>
                        )}
                      </td>
                      <td>
                        <details>
                          <summary>
                            <code>{m.id}</code>
                          </summary>
                          <pre class="payload">
                            <code>{json.length > PREVIEW ? `${json.slice(0, PREVIEW)}\n… (${json.length} characters)` : json}</code>
                          </pre>
                        </details>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          what="messages"
          newest={cursor ? `${base}${qs(f)}` : undefined}
          older={list.nextCursor ? `${base}${qs({ ...f, cursor: list.nextCursor })}` : undefined}
        />
      </Layout>,
    );
  });
}
