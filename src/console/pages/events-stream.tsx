/** @jsx h */
/** @jsxFrag Fragment */
// The events page's live tail: Server-Sent Events carrying rendered table rows (htmx's SSE extension puts them
// at the top of the table). Each open tail polls the database with a keyset query for events above the newest
// it has sent, so an event stored by any instance shows up. Bounded: at most TICK_ROWS rows per poll, at most
// MAX_STREAMS tails per process, a comment every HEARTBEAT_MS to keep proxies from closing a quiet stream.
// A tail ends when the browser goes away, when its session or the person's access to the workspace ends (checked
// every 15 seconds), and when the server shuts down.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import { idFloor } from '../../lib/ids.js';
import type { Ctx } from '../../services/context.js';
import { parseCursor } from '../../services/input.js';
import { eventsAbout } from '../../services/processing/event-refs.js';
import type { EventView } from '../../services/processing/event-view.js';
import { parseTailFilter, tailEvents } from '../../services/processing/tail-events.js';
import { resolveSession, userPrincipal } from '../../services/users/sessions.js';
import { mayOpenWorkspace } from '../../services/workspaces/authenticate.js';
import { readCookies, SESSION_COOKIE } from '../../http/plugins/session.js';
import { EventRow } from '../components/events.js';
import { h, Fragment } from '../jsx.js';
import { requireWorkspace } from '../request.js';

const POLL_MS = 400;
const TICK_ROWS = 50;
const HEARTBEAT_MS = 15_000;
/** How often an open tail checks that its viewer still has a session and access to the workspace. A member removed
 *  from a workspace stops receiving its events within this time. Mutable so that the test of that rule need not
 *  wait for it; nothing else changes it. */
export const tailSessionCheck = { ms: 15_000 };
const MAX_STREAMS = 200;
/** An event is looked for this long after its id's time: ids are made when a webhook arrives and the row is
 *  committed a moment later (batched), so a row can become visible after a newer one was already sent. */
const LOOKBACK_MS = 10_000;
/** A row still 'received' waits this long for its processing before it is sent as it is: the tail then
 *  mostly shows how each event ended (processed, ignored) instead of a status that changes right after. */
const SETTLE_MS = 500;

/** One SSE message: every line of the data prefixed, so markup with a line break stays one message. */
export function sseMessage(event: string, data: string, id?: string): string {
  const lines = data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`);
  return `${id ? `id: ${id}\n` : ''}event: ${event}\n${lines.join('\n')}\n\n`;
}

export async function eventsStream(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  const open = new Set<() => void>();
  // Set once the server starts closing: a tail asked for after that (a browser's EventSource reconnects on its
  // own, over a connection that is still open) would start after the ends below and hold app.close() forever.
  let closing = false;
  // Ended before the server waits for its connections: an open tail would otherwise hold app.close() forever.
  app.addHook('preClose', async () => {
    closing = true;
    for (const end of [...open]) end();
  });
  app.addHook('onClose', async () => {
    for (const end of [...open]) end();
  });

  app.get<{ Params: { ws: string }; Querystring: Record<string, unknown> }>('/workspaces/:ws/events/stream', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const filter = parseTailFilter(request.query);
    // A reconnecting browser says where it was (Last-Event-ID): the tail resumes there, without gaps or repeats.
    const lastId = request.headers['last-event-id'];
    const start =
      parseCursor(typeof lastId === 'string' && lastId !== '' ? lastId : request.query.after) ??
      `${idFloor('ev', ctx.now())}${'0'.repeat(14)}`;
    if (open.size >= MAX_STREAMS) throw new AppError('TOO_MANY_STREAMS', 'too many live tails are open; try again shortly', 503);
    // Checked after the awaits above: from here to open.add() nothing yields, so no close can slip in between.
    if (closing) throw new AppError('SHUTTING_DOWN', 'the server is shutting down; try again shortly', 503);
    const cookie = readCookies(request.headers.cookie)[SESSION_COOKIE];

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.on('error', () => end());
    res.write('retry: 2000\n\n');

    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    let lastWrite = Date.now();
    let lastSessionCheck = Date.now();
    let cursor = start;
    // Rows sent whose ids are still inside the look-back window, and when each waiting row was first seen.
    const sent = new Set<string>();
    const firstSeen = new Map<string, number>();

    function end(): void {
      if (ended) return;
      ended = true;
      open.delete(end);
      if (timer) clearTimeout(timer);
      if (!res.writableEnded && !res.destroyed) res.end();
    }
    open.add(end);
    res.on('close', end);

    const write = (chunk: string): void => {
      if (ended || res.destroyed) return;
      res.write(chunk);
      lastWrite = Date.now();
    };

    const tick = async (): Promise<void> => {
      const now = ctx.now();
      const floor = `${idFloor('ev', now - LOOKBACK_MS)}${'0'.repeat(14)}`;
      const after = floor > start ? floor : start;
      for (const id of sent) if (id <= after) sent.delete(id);
      const rows = await tailEvents(ctx, ws, filter, { after, exclude: [...sent], limit: TICK_ROWS });
      if (ended) return;
      // In arrival order; stop at the first row still waiting for its processing (its successors wait with it).
      const ready: EventView[] = [];
      for (const e of rows) {
        if (e.status === 'received') {
          const seen = firstSeen.get(e.id) ?? now;
          firstSeen.set(e.id, seen);
          if (now - seen < SETTLE_MS) break;
        }
        ready.push(e);
      }
      if (ready.length > 0) {
        const about = await eventsAbout(
          ctx,
          ws,
          ready.map((e) => e.id),
        );
        for (const e of ready) {
          sent.add(e.id);
          firstSeen.delete(e.id);
          if (e.id > cursor) cursor = e.id;
        }
        const html = (
          <>
            {[...ready].reverse().map((e) => (
              <EventRow ws={ws} event={e} about={about.get(e.id)} fresh />
            ))}
          </>
        );
        write(sseMessage('event', html.value, cursor));
      }
      for (const id of firstSeen.keys()) if (id <= after) firstSeen.delete(id);
      if (Date.now() - lastWrite >= HEARTBEAT_MS) write(': heartbeat\n\n');
      if (Date.now() - lastSessionCheck >= tailSessionCheck.ms) {
        lastSessionCheck = Date.now();
        // Ended with the session, and with the person's access to this workspace (removed from it): a page of it
        // would be refused them now, so the rows this tail streams must stop too.
        const session = await resolveSession(ctx, cookie);
        if (!session || !mayOpenWorkspace(userPrincipal(session.user), ws)) end();
      }
    };

    const loop = (): void => {
      if (ended) return;
      timer = setTimeout(() => {
        // A slow reader: skip polls until its buffer drains rather than queue more rows for it.
        const step = res.writableNeedDrain ? Promise.resolve() : tick();
        step.then(loop, (err: unknown) => {
          if (ended) return;
          ctx.log.warn({ err, workspaceId: ws }, 'live tail poll failed; retrying');
          loop();
        });
      }, POLL_MS);
    };
    loop();
  });
}
