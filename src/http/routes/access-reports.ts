// Access reported by the team's own application: single grants and revokes, and a bulk sync of the full list.
// Member and admin keys (and console sessions) may report; viewer keys only read.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { grantAppAccess } from '../../services/access/grant-app-access.js';
import { revokeAppAccess } from '../../services/access/revoke-app-access.js';
import { syncAppAccess } from '../../services/access/sync-app-access.js';
import type { Ctx } from '../../services/context.js';
import { apiErrors, body, errors, isoTime, nullable, oneOf, text, view, wsAnd, WsParams } from '../schemas/common.js';

// Access rows are CRM rows: the same section of the API document.
const tags = ['crm'];
const AccessParams = wsAnd({
  id: text(200, { minLength: 1, description: 'a customer: Sluice id (cus_…) or provider id' }),
  key: text(400, { minLength: 1, description: 'the access key (1–200 letters, digits or _ . : - /; a / is sent as %2F)' }),
});

const AppAccess = view({
  id: nullable(Type.String({ description: 'the access row (acc_…); null when the key was never granted' })),
  customerId: Type.String({ description: 'the Sluice customer id' }),
  key: Type.String(),
  source: Type.Literal('app'),
  status: oneOf(['active', 'revoked', 'expired', 'none'] as const),
  grantedAt: nullable(isoTime()),
  revokedAt: nullable(isoTime()),
  expiresAt: nullable(isoTime()),
});
const AccessChange = (changes: readonly string[]) =>
  view({ access: AppAccess, change: oneOf(changes as readonly [string, ...string[]], 'what this call changed') });

const SyncResult = view({
  customers: Type.Integer(),
  complete: Type.Boolean(),
  granted: Type.Integer(),
  modified: Type.Integer(),
  revoked: Type.Integer(),
  unchanged: Type.Integer(),
});

// The biggest sync allowed (10,000 customers of 100 keys each) is far above the API's 1 MiB default.
const SYNC_BODY_LIMIT = 32 * 1024 * 1024;

export async function accessReportRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.put(
    '/workspaces/:ws/customers/:id/access/:key',
    {
      schema: {
        summary: "Report that the team's app granted this customer an access key (idempotent; a new expiresAt is access.modified)",
        tags,
        params: AccessParams,
        body: nullable(
          body({
            expiresAt: Type.Optional(Type.Unknown({ description: 'ISO 8601 date-time in the future, or null/absent for no expiry' })),
          }),
        ),
        response: { 200: AccessChange(['granted', 'modified', 'unchanged']), ...apiErrors(422) },
      },
    },
    async (r) => grantAppAccess(ctx, { workspaceId: r.params.ws, customer: r.params.id, key: r.params.key, body: r.body }),
  );
  app.delete(
    '/workspaces/:ws/customers/:id/access/:key',
    {
      schema: {
        summary: "Report that the team's app revoked this customer's access key (idempotent)",
        tags,
        params: AccessParams,
        response: { 200: AccessChange(['revoked', 'unchanged']), ...apiErrors(422) },
      },
    },
    async (r) => revokeAppAccess(ctx, { workspaceId: r.params.ws, customer: r.params.id, key: r.params.key }),
  );
  app.post(
    '/workspaces/:ws/access/sync',
    {
      bodyLimit: SYNC_BODY_LIMIT,
      schema: {
        summary:
          "Sync the access the team's app gives, for up to 10,000 customers in one transaction (idempotent); complete: true revokes every app-reported key of the workspace that is not listed",
        tags,
        params: WsParams,
        body: body({
          customers: Type.Array(
            Type.Unknown({ description: '{id, keys}: id a Sluice or provider customer id; keys: up to 100 of "key" or {key, expiresAt}' }),
            { description: 'at most 10,000 customers, each listed once' },
          ),
          complete: Type.Optional(
            Type.Unknown({ description: 'true: the list is everyone who has app access; unlisted keys are revoked' }),
          ),
        }),
        response: { 200: SyncResult, ...apiErrors(422), ...errors(413) },
      },
    },
    async (r) => syncAppAccess(ctx, { workspaceId: r.params.ws, body: r.body }),
  );
}
