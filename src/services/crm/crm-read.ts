// The CRM read API: rows as camelCase JSON, without the bookkeeping columns of the order-safety guard.
import {
  customerTimeline,
  customersOfPerson,
  findCustomer,
  listCustomers as queryCustomers,
  listMessages as queryMessages,
  listRows,
} from '../../db/queries/crm-read.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import { checkEventTypes } from '../outbound/check-event-types.js';
import { messageSource } from '../outbound/message-body.js';
import type { Ctx } from '../context.js';
import { oneOf, optionalString, page, parseCursor, parseLimit, parseTime } from '../input.js';

type Row = Record<string, unknown> & { id: string };
// Bookkeeping of the order-safety guard and of the parity checker's queue (when a check is due, who holds it);
// `next_check_at` stays visible: it says when the customer is checked next. A charge's refund accounting
// (migration 0034) is bookkeeping too: `amountRefunded` is its result.
const HIDDEN = new Set([
  'workspace_id',
  'source_rank',
  'source_event_id',
  'stub',
  'check_due_at',
  'check_lease_until',
  'reported_amount_refunded',
  'reported_as_of',
  'refund_created_at',
  'undone_at',
]);

function camel(row: Row): Row {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (HIDDEN.has(k)) continue;
    const name = k === 'source_ts' ? 'providerUpdatedAt' : k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    out[name] = v instanceof Date ? v.toISOString() : v;
  }
  return out as Row;
}

// Where an access row's access comes from, as the parity policy names sources: the provider that wrote it
// (`sluice` rows are repairs Sluice made itself in auto-repair mode).
const ACCESS_SOURCES: Record<string, string> = {
  stripe: 'stripe_entitlements',
  piano: 'piano',
  app: 'app',
  workflows: 'workflows',
  sluice: 'parity_repair',
};

// A subscription's price is `priceId` in the contract and in the business events' `data.subscription`; the row's
// own column is `priceProviderId` (like `productProviderId`), kept for callers that read it.
function subscriptionView(row: Row): Row {
  return { ...camel(row), priceId: row.price_provider_id ?? null };
}

const viewOf = (table: string): ((row: Row) => Row) =>
  table === 'access' ? accessView : table === 'subscriptions' ? subscriptionView : camel;

function accessView(row: Row): Row {
  const provider = String(row.provider);
  return { ...camel(row), source: ACCESS_SOURCES[provider] ?? provider };
}

async function assertWorkspace(ctx: Ctx, workspaceId: string): Promise<void> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
}

export async function listCustomers(ctx: Ctx, workspaceId: string, q: Record<string, unknown>) {
  const limit = parseLimit(q.limit);
  const before = parseCursor(q.cursor);
  const email = optionalString(q, 'email', 320);
  const text = optionalString(q, 'q', 200);
  await assertWorkspace(ctx, workspaceId);
  const p = page(await queryCustomers(ctx.db, { workspaceId, before, limit: limit + 1, email, q: text }), limit);
  return { data: p.data.map(camel), nextCursor: p.nextCursor };
}

export async function getCustomer(ctx: Ctx, workspaceId: string, id: string) {
  await assertWorkspace(ctx, workspaceId);
  const customer = await findCustomer(ctx.db, workspaceId, id);
  if (!customer) throw new NotFoundError('CUSTOMER_NOT_FOUND', `no customer ${JSON.stringify(id)} in this workspace`);
  // A person known to two providers is one customer here: every row of the person contributes.
  const members = await customersOfPerson(ctx.db, customer);
  const all = async (table: 'subscriptions' | 'invoices' | 'payments' | 'access' | 'checkout_sessions') =>
    (await Promise.all(members.map((m) => listRows(ctx.db, table, { workspaceId, customerId: m.id, limit: 500 }))))
      .flat()
      .map(viewOf(table));
  const [subscriptions, invoices, payments, access, checkoutSessions, timelines] = await Promise.all([
    all('subscriptions'),
    all('invoices'),
    all('payments'),
    all('access'),
    all('checkout_sessions'),
    Promise.all(members.map((m) => customerTimeline(ctx.db, m.id, 500))),
  ]);
  const timeline = timelines
    .flat()
    .sort((a, b) => Number(b.provider_created_at ?? b.received_at) - Number(a.provider_created_at ?? a.received_at))
    .slice(0, 500);
  return {
    ...camel(customer),
    identities: members.map((m) => ({ id: m.id, provider: m.provider, providerId: m.provider_id, email: m.email ?? null })),
    subscriptions,
    invoices,
    payments,
    access,
    checkoutSessions,
    timeline: timeline.map(camel),
  };
}

const STATUS_FILTERS = {
  subscriptions: ['trialing', 'active', 'past_due', 'unpaid', 'paused', 'incomplete', 'incomplete_expired', 'canceled'],
  access: ['active', 'revoked', 'expired'],
} as const;

export async function listCrm(
  ctx: Ctx,
  workspaceId: string,
  table: 'subscriptions' | 'invoices' | 'payments' | 'access' | 'products' | 'prices' | 'checkout_sessions',
  q: Record<string, unknown>,
) {
  const limit = parseLimit(q.limit);
  const before = parseCursor(q.cursor);
  const allowed = table === 'subscriptions' || table === 'access' ? STATUS_FILTERS[table] : undefined;
  const status = allowed ? oneOf(q.status, 'status', allowed) : optionalString(q, 'status', 50);
  const customerRef = optionalString(q, 'customer', 200);
  const kind = table === 'payments' ? oneOf(q.kind, 'kind', ['payment_intent', 'charge', 'refund', 'dispute'] as const) : undefined;
  await assertWorkspace(ctx, workspaceId);
  let customerId: string | undefined;
  if (customerRef) {
    const c = await findCustomer(ctx.db, workspaceId, customerRef);
    if (!c) return { data: [], nextCursor: null };
    customerId = c.id;
  }
  const p = page(await listRows(ctx.db, table, { workspaceId, before, limit: limit + 1, status, customerId, kind }), limit);
  return { data: p.data.map(viewOf(table)), nextCursor: p.nextCursor };
}

export async function listMessages(ctx: Ctx, workspaceId: string, q: Record<string, unknown>) {
  const limit = parseLimit(q.limit);
  const before = parseCursor(q.cursor);
  const type = optionalString(q, 'type', 200);
  const since = parseTime(q.since, 'since');
  await assertWorkspace(ctx, workspaceId);
  if (type !== undefined) await checkEventTypes(ctx, workspaceId, [type], 'type');
  const p = page(await queryMessages(ctx.db, { workspaceId, before, limit: limit + 1, type, since }), limit);
  return {
    data: p.data.map((m) => ({
      id: m.id,
      type: m.type as string,
      timestamp: (m.created_at as Date).toISOString(),
      workspaceId,
      data: m.data,
      source: messageSource({
        source_provider: (m.source_provider as string | null) ?? null,
        source_event_id: (m.source_event_id as string | null) ?? null,
        data: m.data,
        recovered: m.recovered === true,
      }),
      // Test messages are listed, and flagged so their synthetic data is never taken for a real fact.
      ...(m.test ? { test: true as const } : {}),
    })),
    nextCursor: p.nextCursor,
  };
}
