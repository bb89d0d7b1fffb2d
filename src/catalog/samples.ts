// Sample `data` for each business event type, shaped exactly like what the projections publish, for REST
// Hooks samples (Zapier, Make and n8n show fields from it) and test messages. Always flagged as test data
// where shown.
export const SAMPLE_AT = '2026-11-22T10:00:00.000Z';
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
const access = { id: 'acc_sample0000000000000000', customerId: customer.id, resource: 'premium', grantedAt: SAMPLE_AT };
const incident = {
  id: 'inc_sample0000000000000000',
  kind: 'access_missing',
  severity: 'warning',
  status: 'open',
  dedupKey: 'access_missing:parity:cus_sample0000000000000000:premium',
  subject: customer.id,
  title: 'Paid for premium but has no access to it',
  details: { key: 'premium', expected: 'access (subscription active)', actual: 'no active access from: app', rule: 'grantStatuses' },
  evidence: { customerId: customer.id },
  occurrences: 1,
  endpointId: null,
  firstSeenAt: SAMPLE_AT,
  lastSeenAt: SAMPLE_AT,
  acknowledgedAt: null,
  resolvedAt: null,
  resolvedBy: null,
  previousId: null,
};

const SAMPLES: Record<string, Record<string, unknown>> = {
  'customer.created': { customer },
  'customer.updated': { customer: { ...customer, email: 'ada.l@example.com' } },
  'customer.deleted': { customer: { ...customer, deleted: true } },
  'customer.tagged': { customer, tags: ['vip'], workflow: { id: 'wfl_sample0000000000000000', runId: 'wfr_sample0000000000000000' } },
  'customer.untagged': { customer, tags: ['dunning'], workflow: { id: 'wfl_sample0000000000000000', runId: 'wfr_sample0000000000000000' } },
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
  'access.revoked': { access: { ...access, revokedAt: SAMPLE_AT } },
  'incident.opened': { incident },
  'incident.resolved': { incident: { ...incident, status: 'resolved', resolvedAt: SAMPLE_AT, resolvedBy: 'check' } },
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
