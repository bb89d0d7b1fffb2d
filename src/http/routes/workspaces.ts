import type { FastifyInstance } from 'fastify';
import { assertAdmin } from '../../services/workspaces/authenticate.js';
import type { Ctx } from '../../services/context.js';
import { createApiKey } from '../../services/workspaces/create-api-key.js';
import { createWorkspace } from '../../services/workspaces/create-workspace.js';
import { getHealth } from '../../services/ops/get-health.js';
import { getWorkspace, listWorkspaces } from '../../services/workspaces/list-workspaces.js';
import { rebuildCrm } from '../../services/crm/rebuild-crm.js';
import { asObject, optionalBoolean } from '../../services/input.js';

type Ws = { Params: { ws: string } };

export async function workspaceRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.post('/workspaces', async (request, reply) => {
    assertAdmin(request.principal, 'creating a workspace');
    return reply.status(201).send(await createWorkspace(ctx, request.body));
  });
  app.get<{ Querystring: Record<string, string> }>('/workspaces', async (request) => listWorkspaces(ctx, request.principal, request.query));
  app.get<Ws>('/workspaces/:ws', async (request) => getWorkspace(ctx, request.params.ws));
  app.post<Ws>('/workspaces/:ws/api-keys', async (request, reply) => {
    assertAdmin(request.principal, 'creating an API key');
    return reply.status(201).send(await createApiKey(ctx, request.params.ws, request.body));
  });
  app.get<Ws>('/workspaces/:ws/health', async (request) => getHealth(ctx, request.params.ws));
  app.post<Ws>('/workspaces/:ws/rebuild', async (request) => {
    assertAdmin(request.principal, 'rebuilding the CRM');
    return rebuildCrm(ctx, { workspaceId: request.params.ws, apply: optionalBoolean(asObject(request.body), 'apply') ?? false });
  });
}
