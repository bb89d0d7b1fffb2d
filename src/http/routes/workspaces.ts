import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { assertAdmin } from '../../services/workspaces/authenticate.js';
import type { Ctx } from '../../services/context.js';
import { createApiKey } from '../../services/workspaces/create-api-key.js';
import { createWorkspace } from '../../services/workspaces/create-workspace.js';
import { getHealth } from '../../services/ops/get-health.js';
import { getWorkspace, listWorkspaces } from '../../services/workspaces/list-workspaces.js';
import { rebuildCrm } from '../../services/crm/rebuild-crm.js';
import { asObject, optionalBoolean } from '../../services/input.js';
import { assertWorkspaceAdmin } from '../../services/workspaces/authenticate.js';
import { deleteWorkspace } from '../../services/workspaces/delete-workspace.js';
import { listApiKeys } from '../../services/workspaces/list-api-keys.js';
import { revokeApiKey } from '../../services/workspaces/revoke-api-key.js';
import { updateWorkspaceSettings } from '../../services/workspaces/update-workspace.js';

type Ws = { Params: { ws: string } };

const WsParams = Type.Object({ ws: Type.String({ description: 'workspace id (ws_…)' }) });
const WsIdParams = Type.Object({ ws: Type.String({ description: 'workspace id (ws_…)' }), id: Type.String() });
const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: true }) });
const Role = Type.Union([Type.Literal('admin'), Type.Literal('member'), Type.Literal('viewer')]);
const WorkspaceView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  demo: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  webhookUrls: Type.Object({ stripe: Type.String(), piano: Type.String() }),
});
const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  role: Role,
  prefix: Type.String({ description: 'the first characters of the key, to tell keys apart' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'to the minute' }),
});
const Page = Type.Object({ limit: Type.Optional(Type.String()), cursor: Type.Optional(Type.String()) });

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

  // Rename, delete, API key list and revoke (the verbs beyond create and read).
  app.patch<Ws>(
    '/workspaces/:ws',
    {
      schema: {
        summary: 'Rename a workspace or switch its demo mode',
        params: WsParams,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })), demo: Type.Optional(Type.Boolean()) }),
        response: { 200: WorkspaceView, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      assertWorkspaceAdmin(request.principal, 'changing a workspace');
      return updateWorkspaceSettings(ctx, request.params.ws, request.body);
    },
  );
  app.delete<Ws & { Querystring: { confirm?: string }; Body: { confirm?: string } | undefined }>(
    '/workspaces/:ws',
    {
      schema: {
        summary: 'Delete a workspace and erase all its data (admin token; confirm with the workspace id)',
        params: WsParams,
        querystring: Type.Object({ confirm: Type.Optional(Type.String({ description: 'the workspace id again' })) }),
        response: {
          200: Type.Object({ id: Type.String(), deleted: Type.Literal(true), erased: Type.Record(Type.String(), Type.Integer()) }),
          400: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      assertAdmin(request.principal, 'deleting a workspace');
      const body = request.body && typeof request.body === 'object' ? request.body : {};
      return deleteWorkspace(ctx, request.params.ws, request.query.confirm ?? body.confirm);
    },
  );
  app.get<Ws & { Querystring: { limit?: string; cursor?: string } }>(
    '/workspaces/:ws/api-keys',
    {
      schema: {
        summary: "List a workspace's API keys (never the keys themselves)",
        params: WsParams,
        querystring: Page,
        response: {
          200: Type.Object({ data: Type.Array(ApiKeyView), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          403: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      assertWorkspaceAdmin(request.principal, 'listing API keys');
      return listApiKeys(ctx, request.params.ws, request.query);
    },
  );
  app.delete<{ Params: { ws: string; id: string } }>(
    '/workspaces/:ws/api-keys/:id',
    {
      schema: {
        summary: 'Revoke an API key: it stops working with the next request',
        params: WsIdParams,
        response: { 204: Type.Null(), 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      assertWorkspaceAdmin(request.principal, 'revoking an API key');
      await revokeApiKey(ctx, request.params.ws, request.params.id);
      return reply.status(204).send();
    },
  );
}
