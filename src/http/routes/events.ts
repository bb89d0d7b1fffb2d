import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { getEvent, listEvents } from '../../services/processing/list-events.js';
import { publishCustomEvent } from '../../services/outbound/publish-custom-event.js';
import { replayEvent } from '../../services/processing/replay-event.js';

type Ws = { Params: { ws: string } };
type WsEvent = { Params: { ws: string; id: string } };

export async function eventRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.get<Ws & { Querystring: Record<string, string> }>('/workspaces/:ws/events', async (request) =>
    listEvents(ctx, request.params.ws, request.query),
  );
  // A custom event: 201 when published, 200 with `duplicate: true` when its id was already used.
  app.post<Ws>('/workspaces/:ws/events', async (request, reply) => {
    const result = await publishCustomEvent(ctx, request.params.ws, request.body);
    return reply.status(result.duplicate ? 200 : 201).send(result);
  });
  app.get<WsEvent>('/workspaces/:ws/events/:id', async (request) => getEvent(ctx, request.params.ws, request.params.id));
  app.post<WsEvent>('/workspaces/:ws/events/:id/replay', async (request, reply) =>
    reply.status(202).send(await replayEvent(ctx, request.params.ws, request.params.id)),
  );
}
