// A provider's event type as (object, action), by the longest known object prefix: Stripe's dotted names nest
// objects ("customer.subscription.deleted" is about a subscription), but not every dot starts an object
// ("charge.dispute.created" is the charge's action "dispute.created"). Workflows trigger on these pairs.
// Unknown types fall back to the first segment as the object, so a new Stripe object still gets a pair.

// Dotted prefix → object name. Longest match wins.
const OBJECTS: Record<string, string> = {
  account: 'account',
  'account.application': 'account_application',
  'account.external_account': 'external_account',
  application_fee: 'application_fee',
  'application_fee.refund': 'application_fee_refund',
  balance: 'balance',
  'billing_portal.configuration': 'billing_portal_configuration',
  'billing_portal.session': 'billing_portal_session',
  charge: 'charge',
  'checkout.session': 'checkout_session',
  coupon: 'coupon',
  credit_note: 'credit_note',
  customer: 'customer',
  'customer.discount': 'discount',
  'customer.source': 'source',
  'customer.subscription': 'subscription',
  'customer.tax_id': 'tax_id',
  customer_cash_balance_transaction: 'customer_cash_balance_transaction',
  dispute: 'dispute',
  'entitlements.active_entitlement_summary': 'entitlement_summary',
  invoice: 'invoice',
  invoiceitem: 'invoiceitem',
  invoice_payment: 'invoice_payment',
  mandate: 'mandate',
  payment_intent: 'payment_intent',
  payment_link: 'payment_link',
  payment_method: 'payment_method',
  payout: 'payout',
  plan: 'plan',
  price: 'price',
  product: 'product',
  promotion_code: 'promotion_code',
  quote: 'quote',
  refund: 'refund',
  review: 'review',
  setup_intent: 'setup_intent',
  subscription_schedule: 'subscription_schedule',
  tax_rate: 'tax_rate',
  // Sluice's business events and Piano's webhook types use one level: "subscription.canceled".
  subscription: 'subscription',
  order: 'order',
  payment: 'payment',
  chargeback: 'chargeback',
  trial: 'trial',
  access: 'access',
  incident: 'incident',
  user: 'user',
  term: 'term',
};

/** `checkout.session.completed` → { object: 'checkout_session', action: 'completed' }. */
export function objectAndAction(type: string): { object: string; action: string } {
  const parts = type.split('.');
  for (let n = parts.length - 1; n >= 1; n--) {
    const object = OBJECTS[parts.slice(0, n).join('.')];
    if (object) return { object, action: parts.slice(n).join('.') };
  }
  return { object: parts[0] ?? type, action: parts.slice(1).join('.') };
}
