// Erasure of a person on request, and its audit trail.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { eraseCustomer } from '../../services/crm/erase-customer.js';
import { listErasures } from '../../services/crm/erasure-view.js';
import { assertWorkspaceAdmin, principalRef } from '../../services/workspaces/authenticate.js';

const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: true }) });
const ErasureView = Type.Object({
  id: Type.String(),
  requestedBy: Type.String({ description: "'admin' or the id of the API key that asked" }),
  customerIds: Type.Array(Type.String()),
  providerIds: Type.Array(Type.String()),
  counts: Type.Record(Type.String(), Type.Integer(), { description: 'rows changed, by kind' }),
  erasedAt: Type.String({ format: 'date-time' }),
});

export async function erasureRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.delete<{ Params: { ws: string; id: string }; Querystring: { erase?: string } }>(
    '/workspaces/:ws/customers/:id',
    {
      schema: {
        summary: "Erase a person's personal data (CRM rows of every identity, stored payloads, messages, attempt excerpts); audited",
        params: Type.Object({
          ws: Type.String(),
          id: Type.String({ description: 'Sluice customer id or provider id (cus_…, Piano uid)' }),
        }),
        querystring: Type.Object({ erase: Type.Optional(Type.String({ description: 'must be true' })) }),
        response: { 200: ErasureView, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (r) => {
      assertWorkspaceAdmin(r.principal, 'erasing a customer');
      return eraseCustomer(ctx, {
        workspaceId: r.params.ws,
        customerId: r.params.id,
        erase: r.query.erase,
        requestedBy: principalRef(r.principal),
      });
    },
  );
  app.get<{ Params: { ws: string }; Querystring: { limit?: string; cursor?: string } }>(
    '/workspaces/:ws/erasures',
    {
      schema: {
        summary: 'The audit trail of customer erasures, newest first',
        params: Type.Object({ ws: Type.String() }),
        querystring: Type.Object({ limit: Type.Optional(Type.String()), cursor: Type.Optional(Type.String()) }),
        response: {
          200: Type.Object({ data: Type.Array(ErasureView), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          403: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (r) => {
      assertWorkspaceAdmin(r.principal, 'reading the erasure log');
      return listErasures(ctx, r.params.ws, r.query);
    },
  );
}
