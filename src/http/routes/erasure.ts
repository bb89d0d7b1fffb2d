// Erasure of a person on request, and its audit trail.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { adminOnly } from '../plugins/auth.js';
import { eraseCustomer } from '../../services/crm/erase-customer.js';
import { listErasures } from '../../services/crm/erasure-view.js';
import { principalRef } from '../../services/workspaces/authenticate.js';
import { apiErrors, errorAnswer, isoTime, pageOf, paging, query, text, view, wsAnd, WsParams } from '../schemas/common.js';

const tags = ['crm'];

const ErasureView = view(
  {
    id: Type.String(),
    requestedBy: Type.String({ description: "'admin' or the id of the API key that asked" }),
    customerIds: Type.Array(Type.String()),
    providerIds: Type.Array(Type.String()),
    counts: Type.Record(Type.String(), Type.Integer(), { description: 'rows changed, by kind' }),
    erasedAt: isoTime(),
  },
  'one erasure: ids and counts only, never the erased values',
);

export async function erasureRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.delete(
    '/workspaces/:ws/customers/:id',
    {
      config: adminOnly,
      schema: {
        summary: "Erase a person's personal data (CRM rows of every identity, stored payloads, messages, attempt excerpts); audited",
        tags,
        params: wsAnd({ id: text(200, { minLength: 1, description: 'Sluice customer id or provider id (cus_…, Piano uid)' }) }),
        querystring: query({ erase: Type.Optional(text(10, { description: 'must be true' })) }),
        response: {
          200: ErasureView,
          ...apiErrors(),
          503: errorAnswer(
            'BUSY: the erasure met other work on the same rows three times in a row (or STORE_UNAVAILABLE); nothing was changed, retry later',
          ),
        },
      },
    },
    async (r) => {
      return eraseCustomer(ctx, {
        workspaceId: r.params.ws,
        customerId: r.params.id,
        erase: r.query.erase,
        requestedBy: principalRef(r.principal),
      });
    },
  );
  app.get(
    '/workspaces/:ws/erasures',
    {
      config: adminOnly,
      schema: {
        summary: 'The audit trail of customer erasures, newest first',
        tags,
        params: WsParams,
        querystring: query(paging),
        response: { 200: pageOf(ErasureView), ...apiErrors() },
      },
    },
    async (r) => {
      return listErasures(ctx, r.params.ws, r.query);
    },
  );
}
