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
  contract: 'contract',
  voucher: 'voucher',
};

/** Every object name the prefix table knows. */
export const KNOWN_OBJECTS: readonly string[] = [...new Set(Object.values(OBJECTS))];

/** Stripe event types offered as workflow triggers, grouped by object through objectAndAction. */
export const STRIPE_TRIGGER_TYPES: readonly string[] = [
  'checkout.session.completed',
  'checkout.session.expired',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'payment_intent.created',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'payment_intent.processing',
  'payment_intent.requires_action',
  'payment_intent.amount_capturable_updated',
  'payment_intent.partially_funded',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.trial_will_end',
  'customer.subscription.pending_update_applied',
  'customer.subscription.pending_update_expired',
  'invoice.created',
  'invoice.finalized',
  'invoice.finalization_failed',
  'invoice.updated',
  'invoice.sent',
  'invoice.upcoming',
  'invoice.paid',
  'invoice.payment_succeeded',
  'invoice.payment_failed',
  'invoice.payment_action_required',
  'invoice.overdue',
  'invoice.will_be_due',
  'invoice.voided',
  'invoice.marked_uncollectible',
  'invoice.deleted',
  'charge.succeeded',
  'charge.failed',
  'charge.pending',
  'charge.captured',
  'charge.expired',
  'charge.updated',
  'charge.refunded',
  'charge.refund.updated',
  'charge.dispute.created',
  'charge.dispute.updated',
  'charge.dispute.closed',
  'charge.dispute.funds_withdrawn',
  'charge.dispute.funds_reinstated',
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'product.created',
  'product.updated',
  'product.deleted',
  'price.created',
  'price.updated',
  'price.deleted',
];

/** Piano VX webhook types (version 2; version 1 sent `access`, `subscription` and `test` with the detail in `event`). */
export const PIANO_TYPES: readonly string[] = [
  'access_granted',
  'access_modified',
  'access_revoked',
  'user_created',
  'user_updated',
  'user_disabled',
  'user_email_confirmed',
  'user_address_updated',
  'user_payment_method',
  'subscription_renewal',
  'subscription_auto_renew_changed',
  'term_change',
  'term_changed',
  'term_change_finished',
  'payment_refund',
  'voucher_purchased',
  'voucher_delivered',
  'voucher_redeemed',
  'voucher_revoked',
  'contract_created',
  'contract_updated',
  'contract_deleted',
  'contract_redeemed',
  'contract_renewed',
  'contract_user_created',
  'contract_user_access_expired',
  'contract_user_access_revoked',
];

/** `checkout.session.completed` → { object: 'checkout_session', action: 'completed' }. */
export function objectAndAction(type: string): { object: string; action: string } {
  const parts = type.split('.');
  for (let n = parts.length - 1; n >= 1; n--) {
    const object = OBJECTS[parts.slice(0, n).join('.')];
    if (object) return { object, action: parts.slice(n).join('.') };
  }
  return { object: parts[0] ?? type, action: parts.slice(1).join('.') };
}

/** Piano's types join words with underscores: `access_granted` → access/granted, `term_change_finished` →
 *  term/change_finished, by the same longest-prefix table. A version 1 `access` event names its action in
 *  `event` (`new_purchase`), passed as `detail`. */
export function pianoObjectAndAction(type: string, detail?: string | null): { object: string; action: string } {
  const parts = type.split('_');
  for (let n = parts.length - 1; n >= 1; n--) {
    const object = OBJECTS[parts.slice(0, n).join('_')];
    if (object) return { object, action: parts.slice(n).join('_') };
  }
  if (parts.length === 1 && OBJECTS[type]) return { object: OBJECTS[type]!, action: detail ?? '' };
  return { object: parts[0] ?? type, action: parts.slice(1).join('_') || (detail ?? '') };
}
