// Reconciliation scan cost: API requests and duration of a scan against the local Stripe stand-in holding N
// subscriptions (default 10,000, one customer each) and E events of the last day (default 2,000):
//   1. first scan of an empty CRM, unthrottled (every subscription repaired, every customer fetched);
//   2. a daily scan of a CRM in step (nothing to repair), unthrottled;
//   3. the same daily scan at the default live rate (SLUICE_SCAN_RATE_LIVE, 10 requests/s).
// In process, on the test database (DATABASE_URL, or the embedded server `npm test` starts). Loopback only.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/parity-scan.ts [--subscriptions N] [--events E]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { STRIPE_HANDLED_TYPES } from '../src/crm/handlers.js';
import { getScan, runScanToEnd, startScan } from '../src/services/parity/start-scan.js';
import { startTestApp } from '../test/helpers/app.js';
import { startStripeApi } from '../test/helpers/stripe-api.js';

const { values } = parseArgs({ options: { subscriptions: { type: 'string' }, events: { type: 'string' } } });
const N = Number(values.subscriptions ?? 10_000);
const E = Number(values.events ?? 2_000);

const stripe = await startStripeApi(`sk_live_${randomBytes(12).toString('hex')}`);
const app = await startTestApp({ config: { stripeApiUrl: stripe.url, scanRateLive: 0 } });
try {
  const t = 1_790_000_000;
  for (let i = 0; i < N; i++) {
    const id = `sub_b${i}`;
    stripe.objects.set(id, {
      id,
      object: 'subscription',
      customer: `cus_b${i}`,
      status: i % 10 === 0 ? 'canceled' : 'active',
      created: t + i,
      cancel_at_period_end: false,
      current_period_start: t,
      current_period_end: t + 30 * 86400,
      items: { object: 'list', data: [{ id: `si_b${i}`, price: { id: 'price_b', product: 'prod_b' }, quantity: 1 }] },
      metadata: {},
      livemode: true,
    });
    stripe.objects.set(`cus_b${i}`, { id: `cus_b${i}`, object: 'customer', email: `b${i}@example.com`, livemode: true, metadata: {} });
  }
  const now = Math.floor(Date.now() / 1000);
  const types = STRIPE_HANDLED_TYPES.filter((x) => x.startsWith('customer.') || x.startsWith('invoice.'));
  for (let i = 0; i < E; i++) {
    stripe.events.push({
      id: `evt_b${i}`,
      object: 'event',
      type: types[i % types.length],
      created: now - 86_000 + i,
      livemode: true,
      data: { object: { id: `in_b${i}`, object: 'invoice', customer: `cus_b${i % N}`, status: 'paid' } },
    });
  }
  const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'bench scan' })).body.id as string;
  await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['whsec_bench'], apiKey: stripe.apiKey });

  const measure = async (label: string) => {
    const before = stripe.requests.length;
    const started = Date.now();
    const { runId } = await startScan(app.ctx, { workspaceId: ws, provider: 'stripe', startedBy: 'manual' });
    await runScanToEnd(app.ctx, runId);
    const ms = Date.now() - started;
    const run = (await getScan(app.ctx, ws, runId))!;
    const requests = stripe.requests.length - before;
    const byPath: Record<string, number> = {};
    for (const r of stripe.requests.slice(before)) {
      const key = r.path.split('/').slice(0, 3).join('/') + (r.path.split('/').length > 3 ? '/:id' : '');
      byPath[key] = (byPath[key] ?? 0) + 1;
    }
    console.log(
      `${label}: ${run.status}, ${requests} requests (${JSON.stringify(byPath)}), ${(ms / 1000).toFixed(1)} s, ` +
        `${run.counts.recoveredEvents} recovered, ${run.counts.repaired} repaired, ${run.counts.customersFetched} customers fetched`,
    );
  };
  console.log(`stand-in: ${N} subscriptions, ${N} customers, ${E} events in the last day`);
  await measure('first scan, empty CRM, unthrottled');
  // The repairs of the first scan are projected before the CRM counts as in step.
  for (;;) {
    const { rows } = await app.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE workspace_id = $1 AND status = 'received'`,
      [ws],
    );
    if (rows[0]!.n === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await measure('daily scan, CRM in step, unthrottled');
  app.ctx.config.scanRateLive = 10;
  await measure('daily scan, CRM in step, 10 req/s (default live rate)');
} finally {
  await app.close();
  await stripe.close();
}
