import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type TSchema } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { getCustomer, listCrm, listCustomers, listMessages } from '../../services/crm/crm-read.js';
import { apiErrors, oneOf, pageOf, paging, query, text, time, wsAnd, WsParams } from '../schemas/common.js';
import { CrmRow, CustomerDetail, Message } from '../schemas/views.js';
import { erasureRoutes } from './erasure.js';

const tags = ['crm'];
const customerRef = text(200, { description: 'a customer: Sluice id (cus_…) or provider id' });

// Per table: its filters. Status sets are the providers' own where they are closed sets.
const TABLES: { path: string; table: Parameters<typeof listCrm>[2]; what: string; filters: Record<string, TSchema> }[] = [
  {
    path: 'subscriptions',
    table: 'subscriptions',
    what: 'subscriptions',
    filters: {
      status: Type.Optional(
        oneOf(['trialing', 'active', 'past_due', 'unpaid', 'paused', 'incomplete', 'incomplete_expired', 'canceled'] as const),
      ),
      customer: Type.Optional(customerRef),
    },
  },
  {
    path: 'access',
    table: 'access',
    what: 'access rows',
    filters: { status: Type.Optional(oneOf(['active', 'revoked', 'expired'] as const)), customer: Type.Optional(customerRef) },
  },
  {
    path: 'invoices',
    table: 'invoices',
    what: 'invoices',
    filters: { status: Type.Optional(text(50)), customer: Type.Optional(customerRef) },
  },
  {
    path: 'payments',
    table: 'payments',
    what: 'payments, refunds and disputes',
    filters: {
      status: Type.Optional(text(50)),
      customer: Type.Optional(customerRef),
      kind: Type.Optional(oneOf(['payment_intent', 'charge', 'refund', 'dispute'] as const)),
    },
  },
  {
    path: 'checkout-sessions',
    table: 'checkout_sessions',
    what: 'checkout sessions',
    filters: { status: Type.Optional(text(50)), customer: Type.Optional(customerRef) },
  },
  {
    path: 'products',
    table: 'products',
    what: 'products',
    filters: { status: Type.Optional(text(50)), customer: Type.Optional(customerRef) },
  },
  { path: 'prices', table: 'prices', what: 'prices', filters: { status: Type.Optional(text(50)), customer: Type.Optional(customerRef) } },
];

export async function crmRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.get(
    '/workspaces/:ws/customers',
    {
      schema: {
        summary: 'List customers, optionally by exact email or a search',
        tags,
        params: WsParams,
        querystring: query({
          ...paging,
          email: Type.Optional(text(320)),
          q: Type.Optional(text(200, { description: 'matches email or name' })),
        }),
        response: { 200: pageOf(CrmRow), ...apiErrors() },
      },
    },
    async (r) => listCustomers(ctx, r.params.ws, r.query),
  );
  app.get(
    '/workspaces/:ws/customers/:id',
    {
      schema: {
        summary: 'One customer with identities, subscriptions, invoices, payments, access, checkout sessions and timeline',
        tags,
        params: wsAnd({ id: customerRef }),
        response: { 200: CustomerDetail, ...apiErrors() },
      },
    },
    async (r) => getCustomer(ctx, r.params.ws, r.params.id),
  );
  for (const { path, table, what, filters } of TABLES) {
    app.get(
      `/workspaces/:ws/${path}`,
      {
        schema: {
          summary: `List ${what}`,
          tags,
          params: WsParams,
          querystring: query({ ...paging, ...filters }),
          response: { 200: pageOf(CrmRow), ...apiErrors() },
        },
      },
      async (r) => listCrm(ctx, r.params.ws, table, r.query as Record<string, unknown>),
    );
  }
  app.get(
    '/workspaces/:ws/messages',
    {
      schema: {
        summary: 'Messages as published to outbound endpoints, newest first',
        tags,
        params: WsParams,
        querystring: query({
          ...paging,
          type: Type.Optional(text(200, { description: 'an exact type or a prefix pattern such as subscription.*' })),
          since: Type.Optional(time('only messages published at or after this time')),
        }),
        response: { 200: pageOf(Message), ...apiErrors() },
      },
    },
    async (r) => listMessages(ctx, r.params.ws, r.query),
  );
  await app.register(erasureRoutes, { ctx });
}
