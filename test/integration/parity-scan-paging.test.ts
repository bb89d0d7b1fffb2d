// Reconciliation scans against provider APIs that page oddly: a list that ignores its cursor (the same page again
// and again, has_more still true) must fail the scan with a reason instead of asking for ever; Piano pages shorter
// than the limit asked for, while `total` says there is more, are not the end of the list.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PianoApiClient } from '../../src/inbound/piano/api.js';
import { getScan, runScanToEnd, startScan, stopScans, type ScanRequest } from '../../src/services/parity/start-scan.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { pianoData, sendPiano, startPianoApi, type PianoApiStandIn } from '../helpers/piano.js';
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

  async function pianoWorkspace(name: string, aid: string, privateKey: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid, privateKey, apiToken: 'piano_token_paging' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return ws;
  }

  test('Piano: a user access list served 50 at a time (total 150) is read to its end; no live access is revoked', async () => {
    const privateKey = 'PagingTestPianoPrivateKey0123456789ABCDEF';
    const aid = 'AIDPAGE01';
    const uid = 'PNI_paging_user';
    const ws = await pianoWorkspace('piano short pages', aid, privateKey);
    const expires = nowS() + 30 * 86400;
    const accesses = Array.from({ length: 150 }, (_, i) => ({
      access_id: `acc_page_${String(i).padStart(4, '0')}`,
      granted: true,
      revoked: false,
      resource: { rid: `R_${i}` },
      expire_date: expires,
    }));
    // The CRM knows one of them, the 121st: on Piano's third page.
    const grant = {
      version: 2,
      type: 'access_granted',
      event: 'new_purchase',
      aid,
      uid,
      rid: 'R_120',
      access_id: 'acc_page_0120',
      expires,
    };
    assert.equal((await sendPiano(app.url, ws, pianoData(grant, privateKey))).status, 200);
    const accessRow = async () =>
      (await app.db.query<{ status: string }>(`SELECT status FROM access WHERE workspace_id = $1 AND provider_id = 'acc_page_0120'`, [ws]))
        .rows[0];
    await waitFor(async () => (await accessRow())?.status === 'active', 'the grant projected');

    piano.answer = (path, params) => {
      const offset = Number(params.get('offset') ?? 0);
      if (path === '/publisher/webhook/list') return { code: 0, total: 0, webhooks: [] };
      if (path === '/publisher/subscription/list')
        return {
          code: 0,
          total: 1,
          subscriptions: [{ subscription_id: 'RS_PAGE1', status: 'active', auto_renew: true, user: { uid }, next_bill_date: expires }],
        };
      if (path === '/publisher/user/access/list' && params.get('uid') === uid)
        // Piano caps the page at 50 whatever limit was asked; `total` says how many there are.
        return { code: 0, total: accesses.length, offset, limit: 50, count: 50, accesses: accesses.slice(offset, offset + 50) };
      return { code: 0, total: 0 };
    };
    const { ended, run } = await scan({ workspaceId: ws, provider: 'piano' });
    assert.ok(ended);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
    assert.equal((await accessRow())?.status, 'active', "a live access on a later page of Piano's list was revoked");
    const revoked = (
      await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE workspace_id = $1 AND type = 'access.revoked'`, [ws])
    ).rows[0]!.n;
    assert.equal(revoked, 0);
  });

  test('Piano: a webhook list that ignores offset fails the scan, it does not page for ever', async () => {
    const ws = await pianoWorkspace('piano offset ignored', 'AIDPAGE02', 'PagingTestPianoPrivateKey0123456789ABCDEG');
    const webhooks = Array.from({ length: 100 }, (_, i) => ({ webhook_id: `WHL${i}`, status: 'success', create_date: nowS() - 60 }));
    piano.answer = (path) => (path === '/publisher/webhook/list' ? { code: 0, webhooks } : { code: 0, total: 0 });
    const { ended, run } = await scan({ workspaceId: ws, provider: 'piano' });
    assert.ok(ended, `the scan was still paging after 20 s (${JSON.stringify(run.counts)})`);
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /did not move on/);
  });

  test("Piano: the confirmation before a revoke reads a user's accesses to the end of `total`, however short the pages", async () => {
    const accesses = Array.from({ length: 130 }, (_, i) => ({ access_id: `acc_c_${i}`, granted: true, resource: { rid: `R_${i}` } }));
    piano.answer = (path, params) => {
      const offset = Number(params.get('offset') ?? 0);
      return path === '/publisher/user/access/list'
        ? { code: 0, total: accesses.length, accesses: accesses.slice(offset, offset + 40) }
        : { code: 0 };
    };
    const client = new PianoApiClient({ aid: 'AIDPAGE03', apiToken: 't', region: 'sandbox', baseUrl: piano.url });
    const r = await client.userAccesses('PNI_confirm');
    assert.ok(r.ok);
    assert.equal(r.value.length, 130);
    assert.equal(r.value[129]!.access_id, 'acc_c_129');
  });
});
