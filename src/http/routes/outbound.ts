import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { adminOnly } from '../plugins/auth.js';
import { createEndpoint } from '../../services/outbound/create-endpoint.js';
import { deleteEndpoint } from '../../services/outbound/delete-endpoint.js';
import { getDelivery, listDeliveries } from '../../services/outbound/delivery-read.js';
import { getEndpoint, listEndpoints } from '../../services/outbound/endpoint-read.js';
import { hookSample } from '../../services/outbound/hook-sample.js';
import { recoverDeliveries } from '../../services/outbound/recover-deliveries.js';
import { retryDelivery } from '../../services/outbound/retry-delivery.js';
import { revealEndpointSecret } from '../../services/outbound/reveal-endpoint-secret.js';
import { rotateEndpointSecret } from '../../services/outbound/rotate-endpoint-secret.js';
import { sendTestEvent } from '../../services/outbound/send-test-event.js';
import { subscribeHook } from '../../services/outbound/subscribe-hook.js';
import { updateEndpoint } from '../../services/outbound/update-endpoint.js';
import {
  apiErrors,
  body,
  idOf,
  NoContent,
  nullable,
  oneLine,
  oneOf,
  pageOf,
  paging,
  query,
  text,
  time,
  view,
  wsAnd,
  WsParams,
} from '../schemas/common.js';
import { Delivery, Endpoint, EndpointCreated, Hook, Message, Queued } from '../schemas/views.js';

const tags = ['outbound'];
const EndpointId = idOf('ep', 'the endpoint id (ep_…)');
const EndpointParams = wsAnd({ id: EndpointId });
const DeliveryParams = wsAnd({ id: idOf('dlv', 'the delivery id (dlv_…)') });
const DeliveryStatus = Type.Optional(oneOf(['pending', 'succeeded', 'failed'] as const));

// Names, URLs and header rules are the service's checks (it also serves the CLI); here only their shape.
const endpointFields = {
  url: text(2000, {
    description:
      'an https URL (http only for hosts inside SLUICE_OUTBOUND_ALLOW), port 1 to 65535 if given, at most 2000 characters also once normalised (percent-encoded)',
  }),
  eventTypes: Type.Optional(Type.Array(text(200), { maxItems: 200, description: 'exact types or prefix.* patterns; all if omitted' })),
  description: Type.Optional(nullable(oneLine(500))),
  rateLimit: Type.Optional(nullable(Type.Integer({ minimum: 1, maximum: 10000, description: 'deliveries per second' }))),
  headers: Type.Optional(
    Type.Record(Type.String(), text(1000), { description: 'extra headers sent with each delivery (values write-only)' }),
  ),
};

export async function outboundRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.post(
    '/workspaces/:ws/endpoints',
    {
      config: adminOnly,
      schema: {
        summary: 'Create an outbound endpoint; its signing secret is in this answer only',
        tags,
        params: WsParams,
        body: body({
          ...endpointFields,
          secret: Type.Optional(text(200, { description: 'your own whsec_… secret; generated if omitted' })),
        }),
        response: { 201: EndpointCreated, ...apiErrors() },
      },
    },
    async (r, reply) => reply.status(201).send(await createEndpoint(ctx, r.params.ws, r.body, 'endpoint', {}, r.principal)),
  );
  app.get(
    '/workspaces/:ws/endpoints',
    {
      schema: {
        summary: 'List outbound endpoints',
        tags,
        params: WsParams,
        querystring: query({ ...paging, kind: Type.Optional(oneOf(['endpoint', 'hook', 'forward'] as const)) }),
        response: { 200: pageOf(Endpoint), ...apiErrors() },
      },
    },
    async (r) => listEndpoints(ctx, r.params.ws, r.query),
  );
  app.get(
    '/workspaces/:ws/endpoints/:id',
    { schema: { summary: 'One outbound endpoint', tags, params: EndpointParams, response: { 200: Endpoint, ...apiErrors() } } },
    async (r) => getEndpoint(ctx, r.params.ws, r.params.id),
  );
  app.patch(
    '/workspaces/:ws/endpoints/:id',
    {
      config: adminOnly,
      schema: {
        summary: 'Change an outbound endpoint (fields left out are kept)',
        tags,
        params: EndpointParams,
        body: body({
          ...endpointFields,
          url: Type.Optional(endpointFields.url),
          enabled: Type.Optional(Type.Boolean({ description: 'true = state enabled, false = state disabled' })),
          state: Type.Optional(
            oneOf(
              ['enabled', 'paused', 'disabled'] as const,
              'enabled: delivering; paused: deliveries are created and wait; disabled: none are created (recover resends)',
            ),
          ),
        }),
        response: { 200: Endpoint, ...apiErrors() },
      },
    },
    async (r) => updateEndpoint(ctx, r.params.ws, r.params.id, r.body, r.principal),
  );
  app.delete(
    '/workspaces/:ws/endpoints/:id',
    {
      config: adminOnly,
      schema: { summary: 'Delete an outbound endpoint', tags, params: EndpointParams, response: { 204: NoContent, ...apiErrors() } },
    },
    async (r, reply) => {
      await deleteEndpoint(ctx, r.params.ws, r.params.id);
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/workspaces/:ws/endpoints/:id/rotate-secret',
    {
      config: adminOnly,
      schema: {
        summary: 'Rotate the signing secret; the old one keeps signing for 24 hours',
        tags,
        params: EndpointParams,
        response: { 200: view({ secret: Type.String({ description: 'the new whsec_… secret, shown once' }) }), ...apiErrors() },
      },
    },
    async (r) => rotateEndpointSecret(ctx, r.principal, r.params.ws, r.params.id),
  );
  app.get(
    '/workspaces/:ws/endpoints/:id/secret',
    {
      config: adminOnly,
      schema: {
        summary: 'Reveal the signing secret (admin; recorded in the audit log)',
        tags,
        params: EndpointParams,
        response: {
          200: view({
            id: Type.String(),
            secret: Type.String({ description: 'the current whsec_… secret' }),
            previousSecretExpiresAt: nullable(Type.String({ description: 'while a rotated-out secret still signs: when it stops' })),
          }),
          ...apiErrors(),
        },
      },
    },
    async (r) => revealEndpointSecret(ctx, r.principal, r.params.ws, r.params.id),
  );
  app.post(
    '/workspaces/:ws/endpoints/:id/test',
    {
      schema: {
        summary: 'Send a test message (flagged test: true) to this endpoint only',
        tags,
        params: EndpointParams,
        body: nullable(body({ type: Type.Optional(text(200, { description: 'the message type to imitate (default sluice.test)' })) })),
        response: { 202: view({ messageId: Type.String(), deliveryQueued: Type.Literal(true) }), ...apiErrors() },
      },
    },
    async (r, reply) => reply.status(202).send(await sendTestEvent(ctx, r.params.ws, r.params.id, r.body)),
  );
  app.post(
    '/workspaces/:ws/endpoints/:id/recover',
    {
      schema: {
        summary: 'Resend the failed deliveries of this endpoint since a time',
        tags,
        params: EndpointParams,
        body: body({
          since: Type.Union([
            time('resend deliveries that failed since this time'),
            Type.Integer({ minimum: 0, description: 'unix seconds' }),
          ]),
        }),
        response: { 202: Queued, ...apiErrors() },
      },
    },
    async (r, reply) => reply.status(202).send(await recoverDeliveries(ctx, r.params.ws, r.params.id, r.body)),
  );
  app.get(
    '/workspaces/:ws/endpoints/:id/deliveries',
    {
      schema: {
        summary: "List this endpoint's deliveries",
        tags,
        params: EndpointParams,
        querystring: query({
          ...paging,
          status: DeliveryStatus,
          type: Type.Optional(text(200, { description: "the message's exact type" })),
        }),
        response: { 200: pageOf(Delivery), ...apiErrors() },
      },
    },
    async (r) => listDeliveries(ctx, r.params.ws, r.query, r.params.id),
  );
  app.get(
    '/workspaces/:ws/deliveries',
    {
      schema: {
        summary: 'List deliveries, by message, endpoint or status',
        tags,
        params: WsParams,
        querystring: query({
          ...paging,
          status: DeliveryStatus,
          type: Type.Optional(text(200, { description: "the message's exact type" })),
          message: Type.Optional(idOf('msg', 'a message id (msg_…)')),
          endpoint: Type.Optional(EndpointId),
        }),
        response: { 200: pageOf(Delivery), ...apiErrors() },
      },
    },
    async (r) => listDeliveries(ctx, r.params.ws, r.query),
  );
  app.get(
    '/workspaces/:ws/deliveries/:id',
    { schema: { summary: 'One delivery with every attempt', tags, params: DeliveryParams, response: { 200: Delivery, ...apiErrors() } } },
    async (r) => getDelivery(ctx, r.params.ws, r.params.id),
  );
  app.post(
    '/workspaces/:ws/deliveries/:id/retry',
    { schema: { summary: 'Try a delivery again now', tags, params: DeliveryParams, response: { 202: Queued, ...apiErrors(409) } } },
    async (r, reply) => reply.status(202).send(await retryDelivery(ctx, r.params.ws, r.params.id)),
  );

  app.post(
    '/workspaces/:ws/hooks',
    {
      schema: {
        summary: 'Subscribe a REST Hook (Zapier, Make, n8n)',
        tags,
        params: WsParams,
        body: body({
          targetUrl: text(2000, { description: 'an https URL, checked like an endpoint url' }),
          event: text(200, { description: 'a business event type or prefix.*' }),
        }),
        response: { 201: Hook, ...apiErrors() },
      },
    },
    async (r, reply) => reply.status(201).send(await subscribeHook(ctx, r.params.ws, r.body)),
  );
  app.get(
    '/workspaces/:ws/hooks',
    {
      schema: {
        summary: 'List the REST Hook subscriptions',
        tags,
        params: WsParams,
        querystring: query(paging),
        response: { 200: pageOf(Hook), ...apiErrors() },
      },
    },
    async (r) => {
      const hooks = await listEndpoints(ctx, r.params.ws, { ...r.query, kind: 'hook' });
      // The same shape subscribing answered: a hook has exactly one event type.
      return { data: hooks.data.map((h) => ({ id: h.id, targetUrl: h.url, event: h.eventTypes[0] ?? '' })), nextCursor: hooks.nextCursor };
    },
  );
  app.get(
    '/workspaces/:ws/hooks/sample',
    {
      schema: {
        summary: 'A sample message of a type, for building a flow',
        tags,
        params: WsParams,
        querystring: query({ event: Type.Optional(text(200)) }),
        response: {
          200: Type.Array(Message, { description: 'the newest real message of that type, else a synthetic one' }),
          ...apiErrors(),
        },
      },
    },
    async (r) => hookSample(ctx, r.params.ws, r.query),
  );
  app.delete(
    '/workspaces/:ws/hooks/:id',
    { schema: { summary: 'Unsubscribe a REST Hook', tags, params: EndpointParams, response: { 204: NoContent, ...apiErrors() } } },
    async (r, reply) => {
      await deleteEndpoint(ctx, r.params.ws, r.params.id, 'hook');
      return reply.status(204).send(null);
    },
  );
}
