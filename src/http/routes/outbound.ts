import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { createEndpoint } from '../../services/outbound/create-endpoint.js';
import { deleteEndpoint } from '../../services/outbound/delete-endpoint.js';
import { getDelivery, listDeliveries } from '../../services/outbound/delivery-read.js';
import { getEndpoint, listEndpoints } from '../../services/outbound/endpoint-read.js';
import { hookSample } from '../../services/outbound/hook-sample.js';
import { recoverDeliveries } from '../../services/outbound/recover-deliveries.js';
import { retryDelivery } from '../../services/outbound/retry-delivery.js';
import { rotateEndpointSecret } from '../../services/outbound/rotate-endpoint-secret.js';
import { sendTestEvent } from '../../services/outbound/send-test-event.js';
import { subscribeHook } from '../../services/outbound/subscribe-hook.js';
import { updateEndpoint } from '../../services/outbound/update-endpoint.js';

type Q = { Querystring: Record<string, string> };
type Ws = { Params: { ws: string } } & Q;
type WsId = { Params: { ws: string; id: string } } & Q;

export async function outboundRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.post<Ws>('/workspaces/:ws/endpoints', async (r, reply) => reply.status(201).send(await createEndpoint(ctx, r.params.ws, r.body)));
  app.get<Ws>('/workspaces/:ws/endpoints', async (r) => listEndpoints(ctx, r.params.ws, r.query));
  app.get<WsId>('/workspaces/:ws/endpoints/:id', async (r) => getEndpoint(ctx, r.params.ws, r.params.id));
  app.patch<WsId>('/workspaces/:ws/endpoints/:id', async (r) => updateEndpoint(ctx, r.params.ws, r.params.id, r.body));
  app.delete<WsId>('/workspaces/:ws/endpoints/:id', async (r, reply) => {
    await deleteEndpoint(ctx, r.params.ws, r.params.id);
    return reply.status(204).send();
  });
  app.post<WsId>('/workspaces/:ws/endpoints/:id/rotate-secret', async (r) => rotateEndpointSecret(ctx, r.params.ws, r.params.id));
  app.post<WsId>('/workspaces/:ws/endpoints/:id/test', async (r, reply) =>
    reply.status(202).send(await sendTestEvent(ctx, r.params.ws, r.params.id, r.body)),
  );
  app.post<WsId>('/workspaces/:ws/endpoints/:id/recover', async (r, reply) =>
    reply.status(202).send(await recoverDeliveries(ctx, r.params.ws, r.params.id, r.body)),
  );
  app.get<WsId>('/workspaces/:ws/endpoints/:id/deliveries', async (r) => listDeliveries(ctx, r.params.ws, r.query, r.params.id));
  app.get<Ws>('/workspaces/:ws/deliveries', async (r) => listDeliveries(ctx, r.params.ws, r.query));
  app.get<WsId>('/workspaces/:ws/deliveries/:id', async (r) => getDelivery(ctx, r.params.ws, r.params.id));
  app.post<WsId>('/workspaces/:ws/deliveries/:id/retry', async (r, reply) =>
    reply.status(202).send(await retryDelivery(ctx, r.params.ws, r.params.id)),
  );

  app.post<Ws>('/workspaces/:ws/hooks', async (r, reply) => reply.status(201).send(await subscribeHook(ctx, r.params.ws, r.body)));
  app.get<Ws>('/workspaces/:ws/hooks/sample', async (r) => hookSample(ctx, r.params.ws, r.query));
  app.delete<WsId>('/workspaces/:ws/hooks/:id', async (r, reply) => {
    await deleteEndpoint(ctx, r.params.ws, r.params.id, 'hook');
    return reply.status(204).send();
  });
}
