// The load: `customer.subscription.updated` events as Stripe sends them (4.7 KB, unique ids), signed with the
// official SDK. Bodies are built and signed before a phase starts, so the load generator spends its CPU on HTTP
// only and every system pays the same client cost.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

export const WEBHOOK_SECRET = 'whsec_bench_compare_secret';
const stripe = new Stripe('sk_test_unused_for_signing');

export interface SignedEvent {
  id: string;
  body: Buffer;
  signature: string;
}

const run = randomBytes(4).toString('hex');
let seq = 0;
// `created` of the events of each subscription: one second after the last one made in this process for it, so
// every event is newer than the one before it however the phases of a run call signedEvents (a warm-up, the
// measured phase, a paced phase generated later), and changes its row, as a real stream of changes does. (All at
// the second they were made, most were same-second ties the version rule settled without writing.)
const startSecond = Math.floor(Date.now() / 1000);
const lastCreated = new Map<number, number>();

/** A price as a subscription item carries it (expanded), with the legacy `plan` view of it beside. */
function priceObjects(now: number) {
  const price = {
    id: 'price_gold_monthly',
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    created: now - 86_400 * 90,
    currency: 'eur',
    custom_unit_amount: null,
    livemode: false,
    lookup_key: 'gold_monthly',
    metadata: {},
    nickname: 'Gold monthly',
    product: 'prod_gold',
    recurring: { interval: 'month', interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' },
    tax_behavior: 'exclusive',
    tiers_mode: null,
    transform_quantity: null,
    type: 'recurring',
    unit_amount: 900,
    unit_amount_decimal: '900',
  };
  const plan = {
    id: 'price_gold_monthly',
    object: 'plan',
    active: true,
    amount: 900,
    amount_decimal: '900',
    billing_scheme: 'per_unit',
    created: now - 86_400 * 90,
    currency: 'eur',
    interval: 'month',
    interval_count: 1,
    livemode: false,
    metadata: {},
    meter: null,
    nickname: 'Gold monthly',
    product: 'prod_gold',
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: null,
    usage_type: 'licensed',
  };
  return { price, plan };
}

/**
 * One subscription change; `n` picks one of 1,000 subscriptions so the projection updates existing rows too. The
 * object has the fields a subscription of Stripe's current API has, and the body is indented by two spaces, as
 * Stripe sends webhook bodies: 4.7 KB, about the size of a real subscription event. (The load used to reach that
 * size with one 3,000-character metadata value: six times what Stripe allows in a value, and of one letter, which
 * compresses to nothing where real bodies do not.)
 */
function subscriptionUpdated(n: number): { id: string; json: string } {
  seq += 1;
  const id = `evt_bench_${run}_${seq}`;
  const now = Math.floor(Date.now() / 1000);
  const k = n % 1000;
  const { price, plan } = priceObjects(now);
  const created = Math.max(now, (lastCreated.get(k) ?? startSecond) + 1);
  lastCreated.set(k, created);
  const subscription = {
    id: `sub_bench_${k}`,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: now - 86_400 * 10,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: 'classic' },
    billing_thresholds: null,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, reason: null },
    collection_method: 'charge_automatically',
    created: now - 86_400 * 40,
    currency: 'eur',
    customer: `cus_bench_${k}`,
    days_until_due: null,
    default_payment_method: `pm_bench_${k}`,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, issuer: { type: 'self' } },
    items: {
      object: 'list',
      data: [
        {
          id: `si_bench_${k}`,
          object: 'subscription_item',
          billing_thresholds: null,
          created: now - 86_400 * 40,
          current_period_end: now + 86_400 * 20,
          current_period_start: now - 86_400 * 10,
          discounts: [],
          metadata: {},
          plan,
          price,
          quantity: 1,
          subscription: `sub_bench_${k}`,
          tax_rates: [],
        },
      ],
      has_more: false,
      total_count: 1,
      url: `/v1/subscription_items?subscription=sub_bench_${k}`,
    },
    latest_invoice: `in_bench_${k}_${seq}`,
    livemode: false,
    metadata: { plan: 'gold', source: 'bench', account: `acct-${k}` },
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: now - 86_400 * 40,
    status: n % 7 === 0 ? 'past_due' : 'active',
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } },
    trial_start: null,
  };
  const event = {
    id,
    object: 'event',
    api_version: '2026-10-28.endive',
    created,
    data: { object: subscription, previous_attributes: { status: 'trialing', latest_invoice: `in_bench_${k}_prev` } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'customer.subscription.updated',
  };
  return { id, json: JSON.stringify(event, null, 2) };
}

export function signedEvents(count: number, from = 0): SignedEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const { id, json } = subscriptionUpdated(from + i);
    return { id, body: Buffer.from(json), signature: stripe.webhooks.generateTestHeaderString({ payload: json, secret: WEBHOOK_SECRET }) };
  });
}
