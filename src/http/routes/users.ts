// People who sign in to the console: created, listed and deleted by an admin of every workspace (or the admin
// token). A user made without a password gets a one-time link to set it, returned once.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { listAudit } from '../../services/audit/list-audit.js';
import { createUser } from '../../services/users/create-user.js';
import { deleteUser, listUsers } from '../../services/users/manage-users.js';
import { adminOnly } from '../plugins/auth.js';
import { apiErrors, body, idOf, isoTime, NoContent, nullable, oneOf, pageOf, paging, query, view, WsParams } from '../schemas/common.js';

const tags = ['users'];
const ROLES = ['admin', 'member', 'viewer'] as const;

const User = view(
  {
    id: Type.String(),
    email: Type.String(),
    role: oneOf(ROLES),
    workspaces: nullable(Type.Array(Type.String(), { description: 'null: every workspace' })),
    hasPassword: Type.Boolean({ description: 'false until the one-time link was used' }),
    createdAt: isoTime(),
    lastSignInAt: nullable(isoTime()),
  },
  'a person who signs in to the console (never the password)',
);

const AuditEntry = view(
  {
    id: Type.String(),
    at: isoTime(),
    actor: Type.String({ description: "'admin', 'user:<id>' or an API key id" }),
    actorLabel: nullable(Type.String()),
    action: Type.String(),
    target: nullable(Type.String()),
    detail: Type.Record(Type.String(), Type.Unknown()),
  },
  'who changed or revealed which credential or setting, when',
);

export async function userRoutes(plain: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/users',
    {
      config: { instanceAdmin: 'creating a user' },
      schema: {
        summary: 'Create a console user (admin)',
        tags,
        body: body({
          email: Type.String({ maxLength: 254 }),
          password: Type.Optional(Type.String({ maxLength: 200, description: 'omit to get a one-time link that sets it' })),
          role: oneOf(ROLES),
          workspaces: Type.Optional(nullable(Type.Array(idOf('ws'), { maxItems: 500 }))),
        }),
        response: {
          201: view({ user: User, setPasswordUrl: Type.Optional(Type.String({ description: 'shown once' })) }),
          ...apiErrors(409),
        },
      },
    },
    async (request, reply) => {
      return reply.status(201).send(await createUser(ctx, request.principal, request.body));
    },
  );
  app.get(
    '/users',
    {
      config: { instanceAdmin: 'listing users' },
      schema: { summary: 'List console users (admin)', tags, response: { 200: view({ data: Type.Array(User) }), ...apiErrors() } },
    },
    async () => {
      return { data: await listUsers(ctx) };
    },
  );
  app.delete(
    '/users/:id',
    {
      config: { instanceAdmin: 'deleting a user' },
      schema: {
        summary: 'Delete a console user and end their sessions (admin)',
        tags,
        params: Type.Object({ id: idOf('usr') }, { additionalProperties: false }),
        response: { 204: NoContent, ...apiErrors() },
      },
    },
    async (request, reply) => {
      await deleteUser(ctx, request.principal, request.params.id);
      return reply.status(204).send(null);
    },
  );
  app.get(
    '/workspaces/:ws/audit-log',
    {
      config: adminOnly,
      schema: {
        summary: 'The audit log of a workspace, newest first (admin)',
        tags,
        params: WsParams,
        querystring: query(paging),
        response: { 200: pageOf(AuditEntry), ...apiErrors() },
      },
    },
    async (request) => listAudit(ctx, request.params.ws, request.query),
  );
}
