import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { adminOnly } from '../plugins/auth.js';
import { createApiKey } from '../../services/workspaces/create-api-key.js';
import { createWorkspace } from '../../services/workspaces/create-workspace.js';
import { getHealth } from '../../services/ops/get-health.js';
import { getWorkspace, listWorkspaces } from '../../services/workspaces/list-workspaces.js';
import { rebuildCrm } from '../../services/crm/rebuild-crm.js';
import { deleteWorkspace } from '../../services/workspaces/delete-workspace.js';
import { listApiKeys } from '../../services/workspaces/list-api-keys.js';
import { revokeApiKey } from '../../services/workspaces/revoke-api-key.js';
import { updateWorkspaceSettings } from '../../services/workspaces/update-workspace.js';
import {
  apiErrors,
  body,
  idOf,
  isoTime,
  NoContent,
  nullable,
  oneLine,
  oneOf,
  pageOf,
  paging,
  query,
  text,
  view,
  wsAnd,
  WsParams,
} from '../schemas/common.js';
import { ApiKeyCreated, Health, RebuildReport, Workspace } from '../schemas/views.js';

const tags = ['workspaces'];

const ROLES = ['admin', 'member', 'viewer'] as const;
const ApiKeyView = view(
  {
    id: Type.String(),
    name: nullable(Type.String()),
    role: oneOf(ROLES),
    prefix: Type.String({ description: 'the first characters of the key, to tell keys apart' }),
    createdAt: isoTime(),
    lastUsedAt: nullable(isoTime('to the minute')),
  },
  'an API key (never the key itself)',
);

export async function workspaceRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.post(
    '/workspaces',
    {
      config: { instanceAdmin: 'creating a workspace' },
      schema: {
        summary: 'Create a workspace (admin token)',
        tags,
        body: body({
          name: oneLine(120, { minLength: 1 }),
          demo: Type.Optional(Type.Boolean({ description: 'store live-mode traffic but ignore it' })),
        }),
        response: { 201: Workspace, ...apiErrors() },
      },
    },
    async (request, reply) => {
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
      config: adminOnly,
      schema: {
        summary: 'Create an API key scoped to the workspace (admin token); the key is shown once',
        tags,
        params: WsParams,
        body: nullable(
          body({
            name: Type.Optional(nullable(oneLine(120))),
            role: Type.Optional(oneOf(ROLES, 'admin (default): everything; member: read and operate; viewer: read only')),
          }),
        ),
        response: { 201: ApiKeyCreated, ...apiErrors() },
      },
    },
    async (request, reply) => {
      return reply.status(201).send(await createApiKey(ctx, request.params.ws, request.body, request.principal));
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
      config: adminOnly,
      schema: {
        summary: 'Rebuild the CRM from the stored events (admin token); a dry run unless apply is true',
        tags,
        params: WsParams,
        body: nullable(body({ apply: Type.Optional(Type.Boolean()) })),
        response: { 200: RebuildReport, ...apiErrors() },
      },
    },
    async (request) => {
      return rebuildCrm(ctx, { workspaceId: request.params.ws, apply: request.body?.apply ?? false });
    },
  );

  // Rename, delete, API key list and revoke (the verbs beyond create and read).
  app.patch(
    '/workspaces/:ws',
    {
      config: adminOnly,
      schema: {
        summary: 'Rename a workspace, switch its demo mode or set its retention (admin token or an admin key)',
        tags,
        params: WsParams,
        body: body({
          name: Type.Optional(oneLine(120, { minLength: 1 })),
          demo: Type.Optional(Type.Boolean()),
          retentionDays: Type.Optional(
            nullable(Type.Integer({ minimum: 1, maximum: 36500, description: 'days of history kept; null: SLUICE_RETENTION_DAYS' })),
          ),
          workflowRunRetentionDays: Type.Optional(
            nullable(
              Type.Integer({
                minimum: 1,
                maximum: 36500,
                description: 'days finished workflow runs are kept; null: SLUICE_WORKFLOW_RUN_RETENTION_DAYS',
              }),
            ),
          ),
        }),
        response: { 200: Workspace, ...apiErrors() },
      },
    },
    async (request) => {
      return updateWorkspaceSettings(ctx, request.params.ws, request.body, request.principal);
    },
  );
  app.delete(
    '/workspaces/:ws',
    {
      config: { instanceAdmin: 'deleting a workspace' },
      schema: {
        summary: 'Delete a workspace and erase all its data (admin token; confirm with ?confirm=<workspace id>)',
        tags,
        params: WsParams,
        querystring: query({ confirm: Type.Optional(text(100, { description: 'the workspace id again' })) }),
        body: Type.Optional(nullable(body({ confirm: Type.Optional(text(100)) }))),
        response: {
          200: view(
            { id: Type.String(), deleted: Type.Literal(true), erased: Type.Record(Type.String(), Type.Integer()) },
            'what was erased',
          ),
          ...apiErrors(),
        },
      },
    },
    async (request) => {
      return deleteWorkspace(ctx, request.params.ws, request.query.confirm ?? request.body?.confirm);
    },
  );
  app.get(
    '/workspaces/:ws/api-keys',
    {
      config: adminOnly,
      schema: {
        summary: "List a workspace's API keys (never the keys themselves)",
        tags,
        params: WsParams,
        querystring: query(paging),
        response: { 200: pageOf(ApiKeyView), ...apiErrors() },
      },
    },
    async (request) => {
      return listApiKeys(ctx, request.params.ws, request.query);
    },
  );
  app.delete(
    '/workspaces/:ws/api-keys/:id',
    {
      config: adminOnly,
      schema: {
        summary: 'Revoke an API key: it stops working with the next request',
        tags,
        params: wsAnd({ id: idOf('key', 'the API key id') }),
        response: { 204: NoContent, ...apiErrors() },
      },
    },
    async (request, reply) => {
      await revokeApiKey(ctx, request.params.ws, request.params.id, request.principal);
      return reply.status(204).send(null);
    },
  );
}
