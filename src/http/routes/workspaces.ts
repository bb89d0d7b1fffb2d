import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { assertAdmin } from '../../services/workspaces/authenticate.js';
import type { Ctx } from '../../services/context.js';
import { createApiKey } from '../../services/workspaces/create-api-key.js';
import { createWorkspace } from '../../services/workspaces/create-workspace.js';
import { getHealth } from '../../services/ops/get-health.js';
import { getWorkspace, listWorkspaces } from '../../services/workspaces/list-workspaces.js';
import { rebuildCrm } from '../../services/crm/rebuild-crm.js';
import { apiErrors, body, nullable, pageOf, paging, query, text, WsParams } from '../schemas/common.js';
import { ApiKeyCreated, Health, RebuildReport, Workspace } from '../schemas/views.js';

const tags = ['workspaces'];

export async function workspaceRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.post(
    '/workspaces',
    {
      schema: {
        summary: 'Create a workspace (admin token)',
        tags,
        body: body({
          name: text(120, { minLength: 1 }),
          demo: Type.Optional(Type.Boolean({ description: 'store live-mode traffic but ignore it' })),
        }),
        response: { 201: Workspace, ...apiErrors() },
      },
    },
    async (request, reply) => {
      assertAdmin(request.principal, 'creating a workspace');
      return reply.status(201).send(await createWorkspace(ctx, request.body));
    },
  );
  app.get(
    '/workspaces',
    {
      schema: {
        summary: 'List the workspaces the token may see',
        tags,
        querystring: query(paging),
        response: { 200: pageOf(Workspace), ...apiErrors() },
      },
    },
    async (request) => listWorkspaces(ctx, request.principal, request.query),
  );
  app.get(
    '/workspaces/:ws',
    { schema: { summary: 'One workspace', tags, params: WsParams, response: { 200: Workspace, ...apiErrors() } } },
    async (request) => getWorkspace(ctx, request.params.ws),
  );
  app.post(
    '/workspaces/:ws/api-keys',
    {
      schema: {
        summary: 'Create an API key scoped to the workspace (admin token); the key is shown once',
        tags,
        params: WsParams,
        body: nullable(body({ name: Type.Optional(nullable(text(120))) })),
        response: { 201: ApiKeyCreated, ...apiErrors() },
      },
    },
    async (request, reply) => {
      assertAdmin(request.principal, 'creating an API key');
      return reply.status(201).send(await createApiKey(ctx, request.params.ws, request.body));
    },
  );
  app.get(
    '/workspaces/:ws/health',
    {
      schema: {
        summary: 'Health: last events, signature failures, rejections, lag, outbound, incidents',
        tags,
        params: WsParams,
        response: { 200: Health, ...apiErrors() },
      },
    },
    async (request) => getHealth(ctx, request.params.ws),
  );
  app.post(
    '/workspaces/:ws/rebuild',
    {
      schema: {
        summary: 'Rebuild the CRM from the stored events (admin token); a dry run unless apply is true',
        tags,
        params: WsParams,
        body: nullable(body({ apply: Type.Optional(Type.Boolean()) })),
        response: { 200: RebuildReport, ...apiErrors() },
      },
    },
    async (request) => {
      assertAdmin(request.principal, 'rebuilding the CRM');
      return rebuildCrm(ctx, { workspaceId: request.params.ws, apply: request.body?.apply ?? false });
    },
  );
}
