import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PIANO_REGIONS } from '../../inbound/piano/api.js';
import { checkStripeConnection } from '../../services/connections/check-stripe-connection.js';
import type { Ctx } from '../../services/context.js';
import { adminOnly } from '../plugins/auth.js';
import { createStripeEndpoint } from '../../services/connections/create-stripe-endpoint.js';
import { getPianoConnection, setPianoConnection } from '../../services/connections/piano-connection.js';
import { createPianoForward, deletePianoForward, listPianoForwards } from '../../services/outbound/piano-forwards.js';
import { getStripeConnection, setStripeConnection } from '../../services/connections/stripe-connection.js';
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
  wsAnd,
  WsParams,
} from '../schemas/common.js';
import { DoctorReport, Endpoint, EndpointCreated, ManagedStripeEndpoint, PianoConnection, StripeConnection } from '../schemas/views.js';

const tags = ['connections'];

// Secrets are checked for their shape here (strings, bounded, no NUL); whether one is a real whsec_/sk_ value
// is the service's check, with messages that say what to copy from where.
const StripeConnectionInput = body({
  webhookSecrets: Type.Optional(
    Type.Array(text(200), { maxItems: 10, description: 'Stripe signing secrets (whsec_…); several during a rotation' }),
  ),
  apiKey: Type.Optional(nullable(text(300, { description: 'Stripe secret or restricted key; null removes it' }))),
  mode: Type.Optional(oneOf(['test', 'live'] as const)),
  enabled: Type.Optional(
    Type.Boolean({
      description: 'false switches webhooks off: answered 503 (Stripe retries them), nothing stored; true takes them in again',
    }),
  ),
});

const PianoConnectionInput = body({
  aid: Type.Optional(text(40, { description: 'Piano application id' })),
  privateKey: Type.Optional(text(200, { description: 'Piano private key (decrypts and checks the webhooks)' })),
  apiToken: Type.Optional(nullable(text(300, { description: 'Piano API token; null removes it' }))),
  region: Type.Optional(oneOf(PIANO_REGIONS)),
  requireHmac: Type.Optional(Type.Boolean()),
  mergeCustomersByEmail: Type.Optional(Type.Boolean()),
});

export async function connectionRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.put(
    '/workspaces/:ws/connections/stripe',
    {
      config: adminOnly,
      schema: {
        summary: 'Set the Stripe credentials (write-only; fields left out are kept)',
        tags,
        params: WsParams,
        body: StripeConnectionInput,
        response: { 200: StripeConnection, ...apiErrors() },
      },
    },
    async (request) => setStripeConnection(ctx, request.params.ws, request.body, request.principal),
  );
  app.get(
    '/workspaces/:ws/connections/stripe',
    {
      schema: {
        summary: 'The Stripe connection (never its secrets)',
        tags,
        params: WsParams,
        response: { 200: StripeConnection, ...apiErrors() },
      },
    },
    async (request) => getStripeConnection(ctx, request.params.ws),
  );
  app.post(
    '/workspaces/:ws/connections/stripe/endpoints',
    {
      config: adminOnly,
      schema: {
        summary: 'Create a webhook endpoint in Stripe for this workspace and keep its signing secret',
        tags,
        params: WsParams,
        body: nullable(
          body({
            enabledEvents: Type.Optional(
              Type.Array(text(200), { minItems: 1, maxItems: 500, description: 'Stripe event types; the handled set if omitted' }),
            ),
            description: Type.Optional(oneLine(500)),
          }),
        ),
        response: { 201: ManagedStripeEndpoint, ...apiErrors(409, 502) },
      },
    },
    async (request, reply) => reply.status(201).send(await createStripeEndpoint(ctx, request.params.ws, request.body, request.principal)),
  );
  app.get(
    '/workspaces/:ws/connections/stripe/doctor',
    {
      schema: {
        summary: 'The checks of `sluice doctor`: secrets, API key, Stripe endpoints, recent traffic',
        tags,
        params: WsParams,
        response: { 200: DoctorReport, ...apiErrors() },
      },
    },
    async (request) => checkStripeConnection(ctx, request.params.ws),
  );
  app.put(
    '/workspaces/:ws/connections/piano',
    {
      config: adminOnly,
      schema: {
        summary: 'Set the Piano credentials (write-only; fields left out are kept)',
        tags,
        params: WsParams,
        body: PianoConnectionInput,
        response: { 200: PianoConnection, ...apiErrors() },
      },
    },
    async (request) => setPianoConnection(ctx, request.params.ws, request.body, request.principal),
  );
  app.get(
    '/workspaces/:ws/connections/piano',
    {
      schema: {
        summary: 'The Piano connection (never its keys)',
        tags,
        params: WsParams,
        response: { 200: PianoConnection, ...apiErrors() },
      },
    },
    async (request) => getPianoConnection(ctx, request.params.ws),
  );
  app.post(
    '/workspaces/:ws/connections/piano/forwards',
    {
      config: adminOnly,
      schema: {
        summary: 'Add a Piano proxy destination: every stored Piano webhook is re-sent there unchanged',
        tags,
        params: WsParams,
        body: body({
          url: text(2000, { description: 'an http(s) URL, checked like an endpoint url' }),
          description: Type.Optional(nullable(oneLine(500))),
        }),
        response: { 201: EndpointCreated, ...apiErrors() },
      },
    },
    async (request, reply) => reply.status(201).send(await createPianoForward(ctx, request.params.ws, request.body, request.principal)),
  );
  app.get(
    '/workspaces/:ws/connections/piano/forwards',
    {
      schema: {
        summary: 'List the Piano proxy destinations',
        tags,
        params: WsParams,
        querystring: query(paging),
        response: { 200: pageOf(Endpoint), ...apiErrors() },
      },
    },
    async (request) => listPianoForwards(ctx, request.params.ws, request.query),
  );
  app.delete(
    '/workspaces/:ws/connections/piano/forwards/:id',
    {
      config: adminOnly,
      schema: {
        summary: 'Remove a Piano proxy destination',
        tags,
        params: wsAnd({ id: idOf('ep', 'the destination id (ep_…)') }),
        response: { 204: NoContent, ...apiErrors() },
      },
    },
    async (request, reply) => {
      await deletePianoForward(ctx, request.params.ws, request.params.id, request.principal);
      return reply.status(204).send(null);
    },
  );
}
