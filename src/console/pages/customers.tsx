/** @jsx h */
/** @jsxFrag Fragment */
// Customers: search by email, name or provider id (the CRM read API's search), newest first, paged by id.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { listCustomers } from '../../services/crm/crm-read.js';
import { problemsOf } from '../forms.js';
import { customerLabel } from '../components/events.js';
import { Empty, Layout, Time } from '../components/layout.js';
import { h, Fragment } from '../jsx.js';
import { requireWorkspace, sendHtml } from '../request.js';

const PAGE_SIZE = 50;

export async function customersPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string }; Querystring: Record<string, unknown> }>('/workspaces/:ws/customers', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const q = typeof request.query.q === 'string' ? request.query.q.trim() : '';
    const cursor = typeof request.query.cursor === 'string' ? request.query.cursor : undefined;
    let problem: string | undefined;
    let rows: Record<string, unknown>[] = [];
    let nextCursor: string | null = null;
    try {
      const listed = await listCustomers(ctx, ws, { ...(q ? { q } : {}), ...(cursor ? { cursor } : {}), limit: String(PAGE_SIZE) });
      rows = listed.data;
      nextCursor = listed.nextCursor;
    } catch (err) {
      const problems = problemsOf(err);
      if (!problems) throw err;
      problem = Object.values(problems)[0];
    }
    const base = `/workspaces/${ws}/customers`;
    const withQ = (extra: Record<string, string> = {}) => {
      const s = new URLSearchParams({ ...(q ? { q } : {}), ...extra }).toString();
      return s ? `${base}?${s}` : base;
    };
    return sendHtml(
      reply,
      <Layout {...page.layout('Customers', 'customers')}>
        <h1>Customers</h1>
        <form method="get" action={base} class="filters" role="search">
          <div class="field">
            <label for="f-q">Search</label>
            <input
              id="f-q"
              name="q"
              type="search"
              value={q}
              placeholder="Email, name or provider id"
              aria-invalid={problem ? 'true' : undefined}
              aria-describedby={problem ? 'f-q-error f-q-hint' : 'f-q-hint'}
            />
            {problem ? (
              <small id="f-q-error" class="error">
                {problem}
              </small>
            ) : null}
          </div>
          <div class="field">
            <button type="submit">Search</button>
          </div>
          {q ? (
            <div class="field">
              <a href={base}>Clear search</a>
            </div>
          ) : null}
        </form>
        <p id="f-q-hint" class="hint">
          Part of an email or a name, or a whole provider id (such as cus_… or a Piano uid).
        </p>
        {rows.length === 0 && !problem ? (
          <Empty>
            {q ? 'No customer matches this search.' : cursor ? 'No more customers.' : 'No customers yet: they appear as events arrive.'}
          </Empty>
        ) : null}
        {rows.length > 0 ? (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Customers, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Customer</th>
                  <th scope="col">Email</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Provider id</th>
                  <th scope="col">Updated (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((c) => (
                  <tr>
                    <td>
                      <a href={`${base}/${String(c.id)}`}>{customerLabel(c as { id: string })}</a>
                      {c.deleted ? <span class="badge bad">deleted</span> : null}
                    </td>
                    <td>{typeof c.email === 'string' ? c.email : <span class="muted">—</span>}</td>
                    <td>{String(c.provider)}</td>
                    <td>
                      <code>{String(c.providerId)}</code>
                    </td>
                    <td>
                      <Time at={c.updatedAt as string} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <nav class="pager" aria-label="Pages of customers">
          {cursor ? <a href={withQ()}>Newest customers</a> : null}
          {nextCursor ? <a href={withQ({ cursor: nextCursor })}>Older customers</a> : null}
        </nav>
      </Layout>,
      problem ? 400 : 200,
    );
  });
}
