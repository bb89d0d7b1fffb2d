// Projection: how fast stored Stripe events become CRM rows, and how long a row trails its webhook.
//   1. backlog: N lifecycle events (customer, subscription created/updated, invoice, payment intent, charge;
//      6 per customer, interleaved) are stored by an api-only instance, then an instance with a worker drains
//      them: projected events/s from the events' own processed_at stamps.
//   2. steady: events posted at a fixed rate R for D seconds while the worker runs: receipt → CRM row lag
//      (processed_at - received_at) percentiles.
// Against a real `sluice start` (compiled dist/) on PGlite and on PostgreSQL. Loopback only, bounded.
//   npm run build && node --import tsx bench/projection.ts [--db embedded|postgres|both] [--events N] [--rate R] [--seconds D]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  agent,
  api,
  benchStore,
  createBenchWorkspace,
  pct,
  peakRssMb,
  postAll,
  request,
  signStripe,
  startServer,
  type BenchDb,
} from './lib.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'both' },
    events: { type: 'string', default: '6000' },
    rate: { type: 'string', default: '' },
    seconds: { type: 'string', default: '20' },
  },
});
const N = Math.min(Number(values.events), 60_000);
const SECONDS = Math.min(Number(values.seconds), 120);

let seq = 0;
function event(type: string, created: number, object: Record<string, unknown>): string {
  seq += 1;
  return JSON.stringify({
    id: `evt_proj_${seq}_${randomBytes(4).toString('hex')}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created,
    type,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object },
  });
}

/** One customer's signup: six events, each touching a different part of the CRM. */
function lifecycle(k: string, t: number): string[] {
  const cus = `cus_${k}`;
  const sub = `sub_${k}`;
  const items = {
    object: 'list',
    data: [{ id: `si_${k}`, price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold' }, quantity: 1 }],
  };
  const subscription = (status: string) => ({
    id: sub,
    object: 'subscription',
    customer: cus,
    status,
    cancel_at_period_end: false,
    current_period_start: t,
    current_period_end: t + 2_592_000,
    trial_start: t,
    trial_end: t + 604_800,
    items,
    metadata: { source: 'bench' },
  });
  return [
    event('customer.created', t, { id: cus, object: 'customer', email: `${k}@example.com`, name: `Customer ${k}`, metadata: {} }),
    event('customer.subscription.created', t + 1, subscription('trialing')),
    event('customer.subscription.updated', t + 2, subscription('active')),
    event('invoice.paid', t + 3, {
      id: `in_${k}`,
      object: 'invoice',
      customer: cus,
      status: 'paid',
      billing_reason: 'subscription_create',
      amount_due: 900,
      amount_paid: 900,
      currency: 'eur',
      parent: { subscription_details: { subscription: sub } },
      status_transitions: { paid_at: t + 3 },
    }),
    event('payment_intent.succeeded', t + 3, {
      id: `pi_${k}`,
      object: 'payment_intent',
      customer: cus,
      status: 'succeeded',
      amount: 900,
      currency: 'eur',
    }),
    event('charge.succeeded', t + 3, {
      id: `ch_${k}`,
      object: 'charge',
      customer: cus,
      status: 'succeeded',
      amount: 900,
      amount_refunded: 0,
      currency: 'eur',
      payment_intent: `pi_${k}`,
      invoice: `in_${k}`,
    }),
  ];
}

/** Interleaves customers the way a busy account does: neighbouring events belong to different customers. */
function workload(count: number, tag: string): string[] {
  const customers = Math.ceil(count / 6);
  const t = Math.floor(Date.now() / 1000);
  const per = Array.from({ length: customers }, (_, i) => lifecycle(`${tag}${i}`, t));
  const out: string[] = [];
  for (let step = 0; step < 6; step++) for (const l of per) out.push(l[step]!);
  return out.slice(0, count);
}

async function allEvents(
  base: string,
  ws: string,
): Promise<{ providerEventId: string; receivedAt: string; processedAt: string | null; status: string }[]> {
  const out = [];
  let cursor: string | null = null;
  do {
    const page: any = await api(base, 'GET', `/workspaces/${ws}/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

async function waitDrained(base: string, ws: string, expected: number, limitMs: number): Promise<number> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const c = (await api(base, 'GET', `/workspaces/${ws}/health`)).providers.stripe.counts;
    const done = c.processed + c.failed + c.ignored;
    if (done >= expected || Date.now() > deadline) return done;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function run(db: BenchDb) {
  const store = await benchStore(db);
  try {
    // 1. Backlog, stored without a worker, then drained.
    const api1 = await startServer(store.env, ['--role', 'api']);
    const ws = await createBenchWorkspace(api1.base);
    const backlog = workload(N, 'b');
    const ingest = await postAll(api1.base, ws, backlog, 20);
    await api1.stop();
    if (ingest.errors > 0) throw new Error(`${ingest.errors} events were not stored`);

    const server = await startServer(store.env);
    try {
      const drained = await waitDrained(server.base, ws, N, 240_000);
      const stamps = (await allEvents(server.base, ws))
        .map((e) => (e.processedAt ? Date.parse(e.processedAt) : NaN))
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      const spanSeconds = (stamps[stamps.length - 1]! - stamps[0]!) / 1000;
      const projectedPerSecond = Math.round((stamps.length - 1) / spanSeconds);

      // 2. Steady rate, below what was just measured, so lag is latency rather than backlog.
      const rate = Number(values.rate) || Math.max(10, Math.floor(projectedPerSecond * 0.5));
      const steady = workload(Math.round(rate * SECONDS), 's');
      const ids = new Set(steady.map((b) => (JSON.parse(b) as { id: string }).id));
      const started = performance.now();
      let errors = 0;
      await Promise.all(
        steady.map(async (body, i) => {
          const wait = started + (i * 1000) / rate - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const res = await request(`${server.base}/webhooks/stripe/${ws}`, 'POST', body, { 'stripe-signature': signStripe(body) }).catch(
            () => ({ status: 0 }),
          );
          if (res.status !== 200) errors += 1;
        }),
      );
      await waitDrained(server.base, ws, N + steady.length - errors, 120_000);
      const lags = (await allEvents(server.base, ws))
        .filter((e) => ids.has(e.providerEventId) && e.processedAt)
        .map((e) => (Date.parse(e.processedAt!) - Date.parse(e.receivedAt)) / 1000)
        .sort((a, b) => a - b);
      return {
        db,
        'backlog events': drained,
        'projected/s': projectedPerSecond,
        'steady rate/s': rate,
        'steady events': lags.length,
        'lag p50 ms': Math.round(pct(lags, 50) * 1000),
        'lag p95 ms': Math.round(pct(lags, 95) * 1000),
        'lag p99 ms': Math.round(pct(lags, 99) * 1000),
        'lag max ms': Math.round(lags[lags.length - 1]! * 1000),
        'peak RSS MB': Math.round(peakRssMb(server.proc.pid!)),
        'non-200': errors,
      };
    } finally {
      await server.stop();
    }
  } finally {
    await store.drop();
  }
}

const dbs = values.db === 'both' ? (['embedded', 'postgres'] as const) : [values.db as BenchDb];
const rows = [];
for (const db of dbs) rows.push(await run(db));
console.table(rows);
agent.destroy();
