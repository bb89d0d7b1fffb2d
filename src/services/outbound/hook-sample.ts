// REST Hooks samples: what a message of a given type looks like, so Zapier, Make and n8n can show fields
// while a user builds a flow. The workspace's newest real message of that type when there is one, else a
// synthetic one shaped exactly like what the projections publish.
import { latestMessageOfType } from '../../db/queries/messages.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { messageBody, type MessageBody } from './message-body.js';

export const BUSINESS_EVENT_TYPES = [
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'order.completed',
  'order.refunded',
  'payment.succeeded',
  'payment.failed',
  'chargeback.received',
  'subscription.created',
  'subscription.activated',
  'subscription.renewed',
  'subscription.updated',
  'subscription.canceled',
  'subscription.ended',
  'trial.started',
  'trial.ended',
  'access.granted',
  'access.modified',
  'access.revoked',
  'incident.opened',
  'incident.resolved',
];

const AT = '2026-11-22T10:00:00.000Z';
const customer = {
  id: 'cus_sample0000000000000000',
  provider: 'stripe',
  providerId: 'cus_Sample123',
  email: 'ada@example.com',
  name: 'Ada Lovelace',
  deleted: false,
};
const subscription = {
  id: 'sub_sample0000000000000000',
  provider: 'stripe',
  providerId: 'sub_Sample123',
  customerId: customer.id,
  status: 'active',
  priceId: 'price_Sample123',
  planName: 'Gold monthly',
  quantity: 1,
  currentPeriodEnd: '2026-12-22T10:00:00.000Z',
  cancelAtPeriodEnd: false,
  trialEnd: null,
};
const invoice = {
  id: 'inv_sample0000000000000000',
  providerId: 'in_Sample123',
  customerId: customer.id,
  subscriptionId: 'sub_Sample123',
  status: 'paid',
  amountPaid: 900,
  amountDue: 900,
  currency: 'eur',
  billingReason: 'subscription_cycle',
  hostedInvoiceUrl: 'https://invoice.stripe.com/i/acct_Sample/test_Sample',
};
const payment = {
  id: 'pay_sample0000000000000000',
  providerId: 'ch_Sample123',
  customerId: customer.id,
  amount: 900,
  amountRefunded: 900,
  currency: 'eur',
  status: 'succeeded',
};
const access = { id: 'acc_sample0000000000000000', customerId: customer.id, resource: 'premium', grantedAt: AT };
const incident = {
  id: 'inc_sample0000000000000000',
  kind: 'endpoint.disabled',
  endpointId: 'ep_sample0000000000000000',
  detail: 'https://example.com/hooks failed every delivery for 5 days (last: HTTP 500); disabled',
};

const SAMPLES: Record<string, Record<string, unknown>> = {
  'customer.created': { customer },
  'customer.updated': { customer: { ...customer, email: 'ada.l@example.com' } },
  'customer.deleted': { customer: { ...customer, deleted: true } },
  'order.completed': {
    order: {
      id: 'cs_sample0000000000000000',
      providerId: 'cs_test_Sample123',
      customerId: customer.id,
      mode: 'subscription',
      amountTotal: 900,
      currency: 'eur',
      subscriptionId: 'sub_Sample123',
    },
  },
  'order.refunded': { payment },
  'payment.succeeded': { invoice },
  'payment.failed': { invoice: { ...invoice, status: 'open', amountPaid: 0, billingReason: 'subscription_cycle' } },
  'chargeback.received': {
    dispute: {
      id: 'pay_sample0000000000000001',
      providerId: 'dp_Sample123',
      amount: 900,
      currency: 'eur',
      reason: 'fraudulent',
      chargeId: 'ch_Sample123',
    },
  },
  'subscription.created': { subscription: { ...subscription, status: 'trialing', trialEnd: '2026-11-29T10:00:00.000Z' } },
  'subscription.activated': { subscription },
  'subscription.renewed': { invoice },
  'subscription.updated': { subscription: { ...subscription, quantity: 2 } },
  'subscription.canceled': { subscription: { ...subscription, cancelAtPeriodEnd: true }, endsAt: subscription.currentPeriodEnd },
  'subscription.ended': { subscription: { ...subscription, status: 'canceled' } },
  'trial.started': { subscription: { ...subscription, status: 'trialing', trialEnd: '2026-11-29T10:00:00.000Z' } },
  'trial.ended': { subscription },
  'access.granted': { access },
  'access.modified': { access: { ...access, expiresAt: '2027-11-22T10:00:00.000Z' } },
  'access.revoked': { access: { ...access, revokedAt: AT } },
  'incident.opened': { incident: { ...incident, openedAt: AT } },
  'incident.resolved': { incident: { ...incident, resolvedAt: AT } },
};

/** The `data` of a synthetic message of this type. */
export function sampleData(type: string): Record<string, unknown> {
  const known = SAMPLES[type];
  if (known) return known;
  const [provider, ...rest] = type.split('.');
  if (provider === 'stripe' || provider === 'piano') {
    return { id: `evt_Sample123`, object: 'event', type: rest.join('.'), created: 1795341600, data: { object: { id: 'obj_Sample123' } } };
  }
  return {};
}

export async function hookSample(ctx: Ctx, workspaceId: string, q: Record<string, unknown>): Promise<MessageBody[]> {
  const type = q.event;
  if (typeof type !== 'string' || !/^[a-z0-9_]+(\.[a-z0-9_]+)+$/.test(type)) {
    throw new ValidationError(
      `event is required: one of ${BUSINESS_EVENT_TYPES.join(', ')}, stripe.<type>, piano.<type> or a custom event type`,
      {
        field: 'event',
      },
    );
  }
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const real = await latestMessageOfType(ctx.db, workspaceId, type);
  if (real) return [messageBody(real)];
  const source =
    type.startsWith('stripe.') || type.startsWith('piano.') ? { provider: type.split('.')[0]!, eventId: 'evt_Sample123' } : null;
  return [{ id: 'msg_sample0000000000000000', type, timestamp: AT, workspaceId, data: sampleData(type), source }];
}
