/** @jsx h */
/** @jsxFrag Fragment */
// Events: what arrived, newest first, with filters (a GET form, so a filtered view is a link), paging by id that
// never shifts while events arrive, and on the first page a live tail (events-stream.tsx) above the rows.
import type { FastifyInstance } from 'fastify';
import { idFloor } from '../../lib/ids.js';
import type { Ctx } from '../../services/context.js';
import { oneOf, parseCursor } from '../../services/input.js';
import { eventsAbout } from '../../services/processing/event-refs.js';
import { parseEventTypeFilter } from '../../services/processing/event-type-filter.js';
import type { EventView } from '../../services/processing/event-view.js';
import { listEvents } from '../../services/processing/list-events.js';
import { problemsOf } from '../forms.js';
import { EventRow, EventTableHead } from '../components/events.js';
import { Empty, Flash, Layout } from '../components/layout.js';
import { Select } from '../components/select.js';
import { h, Fragment, type Html } from '../jsx.js';
import { requireWorkspace, sendHtml } from '../request.js';

const PROVIDERS = ['stripe', 'piano', 'custom'] as const;
const STATUSES = ['received', 'processed', 'ignored', 'failed'] as const;
const RANGES = {
  hour: ['Last hour', 3_600_000],
  day: ['Last day', 86_400_000],
  week: ['Last week', 7 * 86_400_000],
  all: ['All time', 0],
} as const;
type Range = keyof typeof RANGES;
const PAGE_SIZE = 50;

export interface EventFilters {
  provider?: string | undefined;
  type?: string | undefined;
  status?: string | undefined;
  range?: string | undefined;
}

/** The query string of a filtered view (empty values left out), with extra parameters. */
export function filterQuery(f: EventFilters, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra }))
    if (typeof v === 'string' && v !== '' && !(k === 'range' && v === 'all')) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Each filter checked on its own, so every problem is shown next to its field at once. */
function parseFilters(query: Record<string, unknown>): { values: EventFilters; problems: Record<string, string>; cursor?: string } {
  const text = (k: string) => (typeof query[k] === 'string' ? (query[k] as string) : undefined);
  const values: EventFilters = { provider: text('provider'), type: text('type')?.trim(), status: text('status'), range: text('range') };
  const problems: Record<string, string> = {};
  const check = (name: string, fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      const p = problemsOf(err);
      if (!p) throw err;
      problems[name] = Object.values(p)[0]!;
    }
  };
  check('provider', () => oneOf(values.provider, 'provider', PROVIDERS));
  check('status', () => oneOf(values.status, 'status', STATUSES));
  // An exact type or a family (customer.subscription.*), as the API takes it; any other `*` is refused next to the
  // field rather than listing nothing, which would read as "no such event arrived".
  check('type', () => parseEventTypeFilter({ type: values.type === '' ? undefined : values.type }));
  check('range', () => oneOf(values.range, 'range', Object.keys(RANGES)));
  let cursor: string | undefined;
  check('cursor', () => (cursor = parseCursor(text('cursor'))));
  return { values, problems, ...(cursor ? { cursor } : {}) };
}

function Filters(props: { ws: string; values: EventFilters; problems: Record<string, string> }): Html {
  const { values, problems } = props;
  return (
    <form method="get" action={`/workspaces/${props.ws}/events`} class="filters" aria-label="Filter events">
      <Select
        name="provider"
        label="Provider"
        value={values.provider}
        options={[['', 'Any provider'], ...PROVIDERS.map((p): [string, string] => [p, p])]}
        error={problems.provider}
      />
      <div class="field">
        <label for="f-type">Type</label>
        <input
          id="f-type"
          name="type"
          type="text"
          value={values.type}
          placeholder="e.g. invoice.paid or customer.subscription.*"
          aria-invalid={problems.type ? 'true' : undefined}
          aria-describedby={problems.type ? 'f-type-error' : undefined}
        />
        {problems.type ? (
          <small id="f-type-error" class="error">
            {problems.type}
          </small>
        ) : null}
      </div>
      <Select
        name="status"
        label="Status"
        value={values.status}
        options={[['', 'Any status'], ...STATUSES.map((s): [string, string] => [s, s])]}
        error={problems.status}
      />
      <Select
        name="range"
        label="Received"
        value={values.range ?? 'all'}
        options={(Object.keys(RANGES) as Range[]).map((r): [string, string] => [r, RANGES[r][0]])}
        error={problems.range}
      />
      <div class="field">
        <button type="submit">Filter</button>
      </div>
      <div class="field">
        <a href={`/workspaces/${props.ws}/events`}>Clear filters</a>
      </div>
    </form>
  );
}

/** A bound the live tail starts above: the newest row shown, or (nothing shown) the moment the list was read. */
export function tailStart(rows: EventView[], listedAt: number): string {
  return rows[0]?.id ?? `${idFloor('ev', listedAt)}${'0'.repeat(14)}`;
}

export async function eventsPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string }; Querystring: Record<string, unknown> }>('/workspaces/:ws/events', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const { values, problems, cursor } = parseFilters(request.query);
    const valid = Object.keys(problems).length === 0;
    const listedAt = ctx.now();
    let rows: EventView[] = [];
    let nextCursor: string | null = null;
    if (valid) {
      const span = RANGES[(values.range as Range | undefined) ?? 'all'][1];
      const listed = await listEvents(ctx, ws, {
        provider: values.provider,
        type: values.type || undefined,
        status: values.status,
        since: span ? new Date(listedAt - span).toISOString() : undefined,
        cursor,
        limit: String(PAGE_SIZE),
      });
      rows = listed.data;
      nextCursor = listed.nextCursor;
    }
    const about = await eventsAbout(
      ctx,
      ws,
      rows.map((r) => r.id),
    );
    const live = valid && !cursor;
    const streamQuery = filterQuery(
      { provider: values.provider, type: values.type, status: values.status },
      { after: tailStart(rows, listedAt) },
    );
    const filtered = Boolean(values.provider || values.type || values.status || (values.range && values.range !== 'all'));
    return sendHtml(
      reply,
      <Layout {...page.layout('Events', 'events')}>
        <h1>Events</h1>
        <Filters ws={ws} values={values} problems={problems} />
        {valid ? null : <Flash kind="error">Fix the filters marked below the fields to list events.</Flash>}
        {live ? (
          <div class="actions">
            <button
              type="button"
              class="secondary small"
              data-tail-toggle="event-rows"
              data-tail-status="tail-status"
              aria-pressed="false"
              aria-controls="event-rows"
            >
              Pause
            </button>
            <span id="tail-status" class="tail-status" role="status">
              Live: new events appear at the top.
            </span>
          </div>
        ) : cursor ? (
          <p class="muted">Older events. The live tail runs on the newest page.</p>
        ) : null}
        {valid && rows.length === 0 ? (
          <Empty>
            {cursor ? 'No older events match.' : filtered ? 'No events match these filters yet.' : 'No events yet.'}
            {live ? ' New ones appear in the table below as they arrive.' : ''}
          </Empty>
        ) : null}
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Events, newest first</caption>
            <EventTableHead />
            {live ? (
              <tbody
                id="event-rows"
                hx-ext="sse"
                sse-connect={`/workspaces/${ws}/events/stream${streamQuery}`}
                sse-swap="event"
                hx-swap="afterbegin"
                data-paused="false"
              >
                {rows.map((e) => (
                  <EventRow ws={ws} event={e} about={about.get(e.id)} />
                ))}
              </tbody>
            ) : (
              <tbody id="event-rows">
                {rows.map((e) => (
                  <EventRow ws={ws} event={e} about={about.get(e.id)} />
                ))}
              </tbody>
            )}
          </table>
        </div>
        <nav class="pager" aria-label="Pages of events">
          {cursor ? <a href={`/workspaces/${ws}/events${filterQuery(values)}`}>Newest events</a> : null}
          {nextCursor ? <a href={`/workspaces/${ws}/events${filterQuery(values, { cursor: nextCursor })}`}>Older events</a> : null}
        </nav>
      </Layout>,
      valid ? 200 : 400,
    );
  });
}
