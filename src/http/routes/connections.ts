import type { FastifyInstance } from 'fastify';
import { checkStripeConnection } from '../../services/check-stripe-connection.js';
import type { Ctx } from '../../services/context.js';
import { createStripeEndpoint } from '../../services/create-stripe-endpoint.js';
import { getStripeConnection, setStripeConnection } from '../../services/stripe-connection.js';

type Ws = { Params: { ws: string } };

export async function connectionRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.put<Ws>('/workspaces/:ws/connections/stripe', async (request) => setStripeConnection(ctx, request.params.ws, request.body));
  app.get<Ws>('/workspaces/:ws/connections/stripe', async (request) => getStripeConnection(ctx, request.params.ws));
  app.post<Ws>('/workspaces/:ws/connections/stripe/endpoints', async (request, reply) => {
    reply.code(201);
    return createStripeEndpoint(ctx, request.params.ws, request.body);
  });
  app.get<Ws>('/workspaces/:ws/connections/stripe/doctor', async (request) => checkStripeConnection(ctx, request.params.ws));
}
