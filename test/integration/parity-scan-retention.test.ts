// A scan beside retention: a workspace keeping fewer days than Stripe lists (30) must not have the scan recover, on
// every run, the events retention deleted: each recovery stores the event again and sends its stripe.* message to
// the endpoints once more.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runRetention } from '../../src/services/retention/run-retention.js';
import { getScan, runScanToEnd, startScan, stopScans, type ScanRequest } from '../../src/services/parity/start-scan.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startStripeApi, type StripeApiStandIn } from '../helpers/stripe-api.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_parity_scan_retention_secret';
const nowS = () => Math.floor(Date.now() / 1000);
const DAY_MS = 86_400_000;

describe('reconciliation scan beside a short retention', () => {
  let app: TestApp;
  let stripe: StripeApiStandIn;
  let clockOffset = 0;
  before(async () => {
    stripe = await startStripeApi();
    app = await startTestApp({
      config: { stripeApiUrl: stripe.url, scanRateTest: 0, scanRateLive: 0, retentionPauseMs: 0 },
      now: () => Date.now() + clockOffset,
    });
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

  test('an event recovered, then deleted by a 1-day retention, is not recovered again by the next scan', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'short retention' })).body.id;
    assert.equal((await app.api('PATCH', `/api/v1/workspaces/${ws}`, { retentionDays: 1 })).status, 200);
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
    assert.equal(res.status, 200, JSON.stringify(res.body));

    // The customer's newest state arrived as a webhook; an older change of it never did (Stripe gave up on it).
    const newest = stripeEvent(
      'customer.updated',
      { id: 'cus_ret', object: 'customer', email: 'new@example.com' },
      { created: nowS() - 60 },
    );
    assert.equal((await postStripe(app.url, ws, newest, signStripe(newest, SECRET))).status, 200);
    const lost = JSON.parse(
      stripeEvent('customer.updated', { id: 'cus_ret', object: 'customer', email: 'old@example.com' }, { created: nowS() - 12 * 3600 }),
    ) as Record<string, unknown>;
    stripe.events = [JSON.parse(newest) as Record<string, unknown>, lost];
    stripe.undelivered.add(String(lost.id));
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );

    const first = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(first.status, 'succeeded', JSON.stringify(first));
    assert.equal(first.counts.recoveredEvents, 1);

    // Two days later retention has deleted it (it wrote no CRM row: the newer event did).
    clockOffset = 2 * DAY_MS;
    const retention = await runRetention(app.ctx, { workspaceId: ws });
    assert.ok(retention.ran);
    assert.equal(retention.workspaces[0]!.eventsDeleted, 1);

    const second = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(second.status, 'succeeded', JSON.stringify(second));
    assert.equal(second.counts.recoveredEvents, 0, 'the scan recovered again an event retention had deleted');
    const raw = (
      await app.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messages WHERE workspace_id = $1 AND type = 'stripe.customer.updated' AND source_event_id = $2`,
        [ws, String(lost.id)],
      )
    ).rows[0]!.n;
    assert.ok(raw <= 1, `the lost event's stripe.* message was published ${raw} times`);
  });

  test('a scan asked for a short `since` does not move the start of the next default scan past events it never looked at', async () => {
    clockOffset = 0;
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'since gap' })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    stripe.events = [];
    stripe.undelivered.clear();
    const first = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(first.status, 'succeeded', JSON.stringify(first));
    // That scan was ten hours ago.
    await app.db.query(`UPDATE scan_state SET events_until = events_until - interval '10 hours' WHERE workspace_id = $1`, [ws]);

    // Five hours ago an event Stripe says it delivered never reached the store (a proxy answered 200 and lost it).
    const gone = JSON.parse(
      stripeEvent('customer.created', { id: 'cus_gap', object: 'customer', email: 'gap@example.com' }, { created: nowS() - 5 * 3600 }),
    ) as Record<string, unknown>;
    stripe.events = [gone];

    // Someone checks the last hour only; then the daily scan runs.
    const recent = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 3_600_000) });
    assert.equal(recent.status, 'succeeded', JSON.stringify(recent));
    assert.equal(recent.counts.recoveredEvents, 0);
    const daily = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(daily.status, 'succeeded', JSON.stringify(daily));
    assert.equal(daily.counts.recoveredEvents, 1, 'the daily scan started after the short scan and never looked at the gap before it');
  });
});
