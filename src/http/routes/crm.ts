import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { getCustomer, listCrm, listCustomers, listMessages } from '../../services/crm/crm-read.js';
import { erasureRoutes } from './erasure.js';

type Ws = { Params: { ws: string }; Querystring: Record<string, string> };

export async function crmRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.get<Ws>('/workspaces/:ws/customers', async (r) => listCustomers(ctx, r.params.ws, r.query));
  app.get<{ Params: { ws: string; id: string } }>('/workspaces/:ws/customers/:id', async (r) => getCustomer(ctx, r.params.ws, r.params.id));
  for (const table of ['subscriptions', 'invoices', 'payments', 'access', 'products', 'prices'] as const) {
    app.get<Ws>(`/workspaces/:ws/${table}`, async (r) => listCrm(ctx, r.params.ws, table, r.query));
  }
  app.get<Ws>('/workspaces/:ws/checkout-sessions', async (r) => listCrm(ctx, r.params.ws, 'checkout_sessions', r.query));
  app.get<Ws>('/workspaces/:ws/messages', async (r) => listMessages(ctx, r.params.ws, r.query));
  await app.register(erasureRoutes, { ctx });
}
