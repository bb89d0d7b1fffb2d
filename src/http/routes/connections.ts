import type { FastifyInstance } from 'fastify';
import { checkStripeConnection } from '../../services/connections/check-stripe-connection.js';
import type { Ctx } from '../../services/context.js';
import { createStripeEndpoint } from '../../services/connections/create-stripe-endpoint.js';
import { getPianoConnection, setPianoConnection } from '../../services/connections/piano-connection.js';
import { createPianoForward, deletePianoForward, listPianoForwards } from '../../services/outbound/piano-forwards.js';
import { getStripeConnection, setStripeConnection } from '../../services/connections/stripe-connection.js';

type Ws = { Params: { ws: string } };

export async function connectionRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.put<Ws>('/workspaces/:ws/connections/stripe', async (request) => setStripeConnection(ctx, request.params.ws, request.body));
  app.get<Ws>('/workspaces/:ws/connections/stripe', async (request) => getStripeConnection(ctx, request.params.ws));
  app.post<Ws>('/workspaces/:ws/connections/stripe/endpoints', async (request, reply) => {
    reply.code(201);
    return createStripeEndpoint(ctx, request.params.ws, request.body);
  });
  app.put<Ws>('/workspaces/:ws/connections/piano', async (request) => setPianoConnection(ctx, request.params.ws, request.body));
  app.get<Ws>('/workspaces/:ws/connections/piano', async (request) => getPianoConnection(ctx, request.params.ws));
  app.post<Ws>('/workspaces/:ws/connections/piano/forwards', async (request, reply) =>
    reply.status(201).send(await createPianoForward(ctx, request.params.ws, request.body)),
  );
  app.get<Ws>('/workspaces/:ws/connections/piano/forwards', async (request) => listPianoForwards(ctx, request.params.ws));
  app.delete<{ Params: { ws: string; id: string } }>('/workspaces/:ws/connections/piano/forwards/:id', async (request, reply) => {
    await deletePianoForward(ctx, request.params.ws, request.params.id);
    return reply.status(204).send();
  });
  app.get<Ws>('/workspaces/:ws/connections/stripe/doctor', async (request) => checkStripeConnection(ctx, request.params.ws));
}
