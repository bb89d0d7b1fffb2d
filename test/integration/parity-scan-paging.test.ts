// Reconciliation scans against provider APIs that page oddly: a list that ignores its cursor (the same page again
// and again, has_more still true) must fail the scan with a reason instead of asking for ever; Piano pages shorter
// than the limit asked for, while `total` says there is more, are not the end of the list.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { getScan, runScanToEnd, startScan, stopScans, type ScanRequest } from '../../src/services/parity/start-scan.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startPianoApi, type PianoApiStandIn } from '../helpers/piano.js';
import { startStripeApi, type StripeApiStandIn } from '../helpers/stripe-api.js';

const SECRET = 'whsec_parity_scan_paging_secret';
const nowS = () => Math.floor(Date.now() / 1000);

function subscription(id: string, created: number) {
  return {
    id,
    object: 'subscription',
    customer: `cus_${id}`,
    status: 'active',
    created,
    cancel_at_period_end: false,
    current_period_start: created,
    current_period_end: created + 30 * 86400,
    items: { object: 'list', data: [{ id: `si_${id}`, price: { id: 'price_gold', product: 'prod_gold' }, quantity: 1 }] },
    metadata: {},
    livemode: false,
  };
}

describe('reconciliation scan against odd pagination', () => {
  let app: TestApp;
  let stripe: StripeApiStandIn;
  let piano: PianoApiStandIn;
  before(async () => {
    stripe = await startStripeApi();
    piano = await startPianoApi();
    app = await startTestApp({ config: { stripeApiUrl: stripe.url, pianoApiUrl: piano.url, scanRateTest: 0, scanRateLive: 0 } });
  });
  beforeEach(() => {
    stripe.objects.clear();
    stripe.events = [];
    stripe.undelivered.clear();
    stripe.beforeAnswer = undefined;
  });
  after(async () => {
    await stopScans(app.ctx);
    await app.close();
    await stripe.close();
    await piano.close();
  });

  /** Runs a scan to its end, or stops it after `ms` (a scan that never ends is the bug). */
  async function scan(req: Omit<ScanRequest, 'startedBy'>, ms = 20_000) {
    const { runId } = await startScan(app.ctx, { startedBy: 'manual', ...req });
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      runScanToEnd(app.ctx, runId).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
    clearTimeout(timer);
    if (!ended) await stopScans(app.ctx);
    return { ended, run: (await getScan(app.ctx, req.workspaceId, runId))! };
  }

  async function stripeWorkspace(name: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return ws;
  }

  test('Stripe: a subscriptions list that ignores starting_after fails the scan, it does not page for ever', async () => {
    const ws = await stripeWorkspace('stripe cursor ignored');
    for (let i = 0; i < 101; i++) stripe.objects.set(`sub_loop${i}`, subscription(`sub_loop${String(i).padStart(3, '0')}`, nowS() - i));
    // The stand-in answers as if no cursor had been sent: the first page, has_more true, every time.
    stripe.beforeAnswer = (req) => {
      if (req.path === '/v1/subscriptions') req.form.delete('starting_after');
    };
    const { ended, run } = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 60_000), dryRun: true });
    assert.ok(ended, `the scan was still paging after 20 s (${JSON.stringify(run.counts)})`);
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /did not move on|cursor/i);
  });

  test('Stripe: an events list that ignores starting_after fails the scan, it does not page for ever', async () => {
    const ws = await stripeWorkspace('stripe events cursor ignored');
    for (let i = 0; i < 101; i++)
      stripe.events.push({
        id: `evt_loop${String(i).padStart(3, '0')}`,
        object: 'event',
        type: 'customer.updated',
        created: nowS() - 10 - i,
        data: { object: { id: 'cus_loop', object: 'customer' } },
        livemode: false,
      });
    stripe.beforeAnswer = (req) => {
      if (req.path === '/v1/events') req.form.delete('starting_after');
    };
    const { ended, run } = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 3_600_000), dryRun: true });
    assert.ok(ended, `the scan was still paging after 20 s (${JSON.stringify(run.counts)})`);
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /did not move on|cursor/i);
  });
});
