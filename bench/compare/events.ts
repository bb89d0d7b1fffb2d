// The load: `customer.subscription.updated` events as Stripe sends them (~4.6 KB, unique ids), signed with the
// official SDK. Bodies are built and signed before a phase starts, so the load generator spends its CPU on HTTP
// only and every system pays the same client cost.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

export const WEBHOOK_SECRET = 'whsec_bench_compare_secret';
const stripe = new Stripe('sk_test_unused_for_signing');
export const TARGET_BYTES = 4600;

export interface SignedEvent {
  id: string;
  body: Buffer;
  signature: string;
}

const run = randomBytes(4).toString('hex');
let seq = 0;

/** One subscription change; `n` picks one of 1,000 subscriptions so the projection updates existing rows too. */
function subscriptionUpdated(n: number, pad: number): { id: string; json: string } {
  seq += 1;
  const id = `evt_bench_${run}_${seq}`;
  const now = Math.floor(Date.now() / 1000);
  const k = n % 1000;
  const price = {
    id: 'price_gold_monthly',
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    created: now - 86_400 * 90,
    currency: 'eur',
    livemode: false,
    lookup_key: null,
    metadata: {},
    nickname: 'Gold monthly',
    product: 'prod_gold',
    recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed' },
    tax_behavior: 'unspecified',
    type: 'recurring',
    unit_amount: 900,
    unit_amount_decimal: '900',
  };
  const subscription = {
    id: `sub_bench_${k}`,
    object: 'subscription',
    application: null,
    billing_cycle_anchor: now - 86_400 * 10,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    collection_method: 'charge_automatically',
    created: now - 86_400 * 40,
    currency: 'eur',
    customer: `cus_bench_${k}`,
    days_until_due: null,
    default_payment_method: `pm_bench_${k}`,
    description: null,
    discounts: [],
    ended_at: null,
    items: {
      object: 'list',
      data: [
        {
          id: `si_bench_${k}`,
          object: 'subscription_item',
          created: now - 86_400 * 40,
          current_period_start: now - 86_400 * 10,
          current_period_end: now + 86_400 * 20,
          metadata: {},
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
    metadata: { plan: 'gold', source: 'bench', note: 'x'.repeat(pad) },
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    start_date: now - 86_400 * 40,
    status: n % 7 === 0 ? 'past_due' : 'active',
    trial_end: null,
    trial_start: null,
  };
  const event = {
    id,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: now,
    data: { object: subscription, previous_attributes: { status: 'trialing', latest_invoice: `in_bench_${k}_prev` } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'customer.subscription.updated',
  };
  return { id, json: JSON.stringify(event) };
}

// The padding that brings a body to ~4.6 KB, found once from an unpadded body.
const PAD = Math.max(0, TARGET_BYTES - Buffer.byteLength(subscriptionUpdated(0, 0).json));

export function signedEvents(count: number, from = 0): SignedEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const { id, json } = subscriptionUpdated(from + i, PAD);
    return { id, body: Buffer.from(json), signature: stripe.webhooks.generateTestHeaderString({ payload: json, secret: WEBHOOK_SECRET }) };
  });
}
