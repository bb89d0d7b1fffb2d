import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { getEvent, listEvents } from '../../services/processing/list-events.js';
import { publishCustomEvent } from '../../services/outbound/publish-custom-event.js';
import { replayEvent } from '../../services/processing/replay-event.js';
import { apiErrors, body, idOf, jsonObject, oneOf, pageOf, paging, query, text, time, wsAnd, WsParams } from '../schemas/common.js';
import { Event, PublishedEvent, Queued } from '../schemas/views.js';

const tags = ['events'];
const EventParams = wsAnd({ id: idOf('ev', 'the event id (ev_…)') });

export async function eventRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.get(
    '/workspaces/:ws/events',
    {
      schema: {
        summary: 'List stored events, newest first',
        tags,
        params: WsParams,
        querystring: query({
          ...paging,
          provider: Type.Optional(oneOf(['stripe', 'piano', 'custom'] as const)),
          type: Type.Optional(
            text(200, {
              description:
                "the provider's event type, e.g. invoice.paid, or a family of types, e.g. customer.subscription.* (every type starting with customer.subscription.)",
            }),
          ),
          status: Type.Optional(oneOf(['received', 'processed', 'ignored', 'failed'] as const)),
          since: Type.Optional(time('only events received at or after this time')),
        }),
        response: { 200: pageOf(Event), ...apiErrors() },
      },
    },
    async (request) => listEvents(ctx, request.params.ws, request.query),
  );
  // A custom event: 201 when published, 200 with `duplicate: true` when its id was already used.
  app.post(
    '/workspaces/:ws/events',
    {
      schema: {
        summary: 'Publish a custom event to workflows and outbound endpoints',
        description: 'The same `id` again answers 200 with `duplicate: true` and publishes nothing.',
        tags,
        params: WsParams,
        body: body({
          type: text(200, { description: 'lower-case dotted words, e.g. course.enrolled; provider and business names are reserved' }),
          data: Type.Optional(jsonObject('the event data, at most 256 KiB of JSON')),
          id: Type.Optional(text(200, { minLength: 1, description: 'your idempotency key' })),
        }),
        response: { 200: PublishedEvent, 201: PublishedEvent, ...apiErrors() },
      },
    },
    async (request, reply) => {
      const result = await publishCustomEvent(ctx, request.params.ws, request.body);
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );
  app.get(
    '/workspaces/:ws/events/:id',
    { schema: { summary: 'One event with its stored payload', tags, params: EventParams, response: { 200: Event, ...apiErrors() } } },
    async (request) => getEvent(ctx, request.params.ws, request.params.id),
  );
  app.post(
    '/workspaces/:ws/events/:id/replay',
    { schema: { summary: 'Process the event again', tags, params: EventParams, response: { 202: Queued, ...apiErrors() } } },
    async (request, reply) => reply.status(202).send(await replayEvent(ctx, request.params.ws, request.params.id)),
  );
}
