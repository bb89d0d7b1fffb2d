// Reconciliation scans against provider APIs that answer objects that are not what they should be: a subscription
// without a status or items (a proxy that strips fields, a truncated answer) must not be taken for the truth and
// written over the CRM's row, ending the access of a customer who pays.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getScan, runScanToEnd, startScan, stopScans, type ScanRequest } from '../../src/services/parity/start-scan.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startStripeApi, type StripeApiStandIn } from '../helpers/stripe-api.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_parity_scan_malformed_secret';
const nowS = () => Math.floor(Date.now() / 1000);

function subscription(id: string) {
  const t = nowS() - 86400;
  return {
    id,
    object: 'subscription',
    customer: `cus_${id}`,
    status: 'active',
    created: t,
    cancel_at_period_end: false,
    current_period_start: t,
    current_period_end: t + 30 * 86400,
    items: { object: 'list', data: [{ id: `si_${id}`, price: { id: 'price_gold', product: 'prod_gold' }, quantity: 1 }] },
    metadata: {},
    livemode: false,
  };
}

describe('reconciliation scan against malformed objects', () => {
  let app: TestApp;
  let stripe: StripeApiStandIn;
  before(async () => {
    stripe = await startStripeApi();
    app = await startTestApp({ config: { stripeApiUrl: stripe.url, scanRateTest: 0, scanRateLive: 0 } });
  });
  after(async () => {
    await stopScans(app.ctx);
    await app.close();
    await stripe.close();
  });

  async function scan(req: Omit<ScanRequest, 'startedBy'>) {
    const { runId } = await startScan(app.ctx, { startedBy: 'manual', ...req });
    await runScanToEnd(app.ctx, runId);
    return (await getScan(app.ctx, req.workspaceId, runId))!;
  }

  test('a listed subscription without status or items fails the scan and leaves the CRM row as it was', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'malformed' })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const created = stripeEvent('customer.subscription.created', subscription('sub_mal'), { created: nowS() - 3600 });
    assert.equal((await postStripe(app.url, ws, created, signStripe(created, SECRET))).status, 200);
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
    // What comes back from "Stripe" is the subscription's id and little else.
    stripe.objects.set('sub_mal', { id: 'sub_mal', object: 'subscription', customer: 'cus_sub_mal', created: nowS() - 86400 });

    const run = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 60_000) });
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
    const row = (
      await app.db.query<{ status: string | null; items: unknown[] }>(
        `SELECT status, items FROM subscriptions WHERE workspace_id = $1 AND provider_id = 'sub_mal'`,
        [ws],
      )
    ).rows[0]!;
    assert.equal(row.status, 'active', `the CRM row was overwritten from a malformed answer (scan ${JSON.stringify(run.counts)})`);
    assert.equal(row.items.length, 1);
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /not a subscription|status/i);
  });
});
