// The reconciliation scan against local stand-ins of Stripe's and Piano's APIs: events that never arrived are
// recovered through the ingest path, the CRM is repaired from what the API says, reruns change nothing, 429s slow
// the scan without failing it, a refused key raises scan_failed, an older answer never overwrites a newer row, and
// a scan killed after a page resumes from its cursor on another runner.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { messageBody } from '../../src/services/outbound/message-body.js';
import type { MessageRow } from '../../src/db/queries/messages.js';
import { checkCustomers } from '../../src/services/parity/run-checks.js';
import { getScan, resumeScans, runScanToEnd, startScan, stopScans, type ScanRequest } from '../../src/services/parity/start-scan.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { runSluice, startSluiceProcess } from '../helpers/sluice-process.js';
import { pianoData, sendPiano, startPianoApi, type PianoApiStandIn } from '../helpers/piano.js';
import { startStripeApi, type StripeApiRequest, type StripeApiStandIn } from '../helpers/stripe-api.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_parity_scan_test_secret';
const nowS = () => Math.floor(Date.now() / 1000);

function subscription(id: string, status: string, extra: Record<string, unknown> = {}) {
  const t = 1_790_000_000;
  return {
    id,
    object: 'subscription',
    customer: `cus_${id}`,
    status,
    created: t,
    cancel_at_period_end: false,
    current_period_start: t,
    current_period_end: t + 30 * 86400,
    canceled_at: status === 'canceled' ? t + 86400 : null,
    ended_at: status === 'canceled' ? t + 86400 : null,
    items: { object: 'list', data: [{ id: `si_${id}`, price: { id: 'price_gold', product: 'prod_gold' }, quantity: 1 }] },
    metadata: {},
    livemode: false,
    ...extra,
  };
}

function customer(id: string) {
  return { id, object: 'customer', email: `${id}@example.com`, name: id, livemode: false, metadata: {} };
}

describe('reconciliation scan', () => {
  let app: TestApp;
  let stripe: StripeApiStandIn;
  let piano: PianoApiStandIn;
  let clockOffset = 0;
  before(async () => {
    stripe = await startStripeApi();
    piano = await startPianoApi();
    app = await startTestApp({
      config: { stripeApiUrl: stripe.url, pianoApiUrl: piano.url, scanRateTest: 0, scanRateLive: 0 },
      now: () => Date.now() + clockOffset,
    });
  });
  // Each test has its own "Stripe" account: what one test put there is not listed to the next.
  beforeEach(() => {
    stripe.objects.clear();
    stripe.events = [];
    stripe.undelivered.clear();
    stripe.rateLimit = undefined;
    stripe.beforeAnswer = undefined;
    stripe.garbage = undefined;
  });
  after(async () => {
    await stopScans(app.ctx);
    await app.close();
    await stripe.close();
    await piano.close();
  });

  async function workspace(name: string, apiKey: string | null = stripe.apiKey): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, {
      webhookSecrets: [SECRET],
      ...(apiKey ? { apiKey } : {}),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return ws;
  }
  async function deliver(ws: string, payload: string): Promise<void> {
    const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
  }
  async function scan(req: Omit<ScanRequest, 'startedBy'>) {
    const { runId } = await startScan(app.ctx, { startedBy: 'manual', ...req });
    await runScanToEnd(app.ctx, runId);
    return (await getScan(app.ctx, req.workspaceId, runId))!;
  }
  const q = async <T = any>(sql: string, params: unknown[]) => (await app.db.query<T & object>(sql, params)).rows as T[];
  const subRow = async (ws: string, id: string) =>
    (await q(`SELECT * FROM subscriptions WHERE workspace_id = $1 AND provider_id = $2`, [ws, id]))[0];
  const eventCount = async (ws: string) =>
    (await q<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE workspace_id = $1`, [ws]))[0]!.n;
  const messages = async (ws: string) => q<MessageRow>(`SELECT * FROM messages WHERE workspace_id = $1 ORDER BY id`, [ws]);
  const incidents = async (ws: string, kind: string) =>
    q(`SELECT * FROM incidents WHERE workspace_id = $1 AND kind = $2 ORDER BY id`, [ws, kind]);

  test('a cancellation whose webhook never arrived is recovered: one recovered event, one subscription.ended saying so; a rerun changes nothing', async () => {
    const ws = await workspace('missed cancel');
    const active = subscription('sub_missed', 'active');
    const created = stripeEvent('customer.subscription.created', active, { created: nowS() - 5000 });
    await deliver(ws, created);
    assert.equal((await subRow(ws, 'sub_missed')).status, 'active');

    // In "Stripe" the subscription is canceled now; the customer.subscription.deleted event was never delivered.
    const canceled = subscription('sub_missed', 'canceled');
    const deleted = JSON.parse(stripeEvent('customer.subscription.deleted', canceled, { created: nowS() - 1000 }));
    stripe.events.push(JSON.parse(created), deleted);
    stripe.objects.set('sub_missed', canceled);
    stripe.objects.set('cus_sub_missed', customer('cus_sub_missed'));

    const run = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.counts.recoveredEvents, 1);
    assert.equal(run.counts.repaired, 0, 'the recovered event already brought the CRM in line');
    assert.deepEqual(run.recoveredEventIds, { stripe: [deleted.id] });
    assert.equal((await subRow(ws, 'sub_missed')).status, 'canceled');

    const recovered = await q(`SELECT provider_event_id, status FROM events WHERE workspace_id = $1 AND recovered`, [ws]);
    assert.deepEqual(recovered, [{ provider_event_id: deleted.id, status: 'processed' }]);
    const ended = (await messages(ws)).filter((m) => m.type === 'subscription.ended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.recovered, true);
    assert.deepEqual(messageBody(ended[0]!).source, { provider: 'stripe', eventId: deleted.id, recovered: true });
    // Messages of delivered events say nothing of recovery.
    const createdMsg = (await messages(ws)).find((m) => m.type === 'subscription.created')!;
    assert.deepEqual(messageBody(createdMsg).source, { provider: 'stripe', eventId: JSON.parse(created).id });

    const missed = await incidents(ws, 'webhook_missed');
    assert.equal(missed.length, 1);
    assert.equal(missed[0].status, 'open');
    assert.deepEqual(missed[0].evidence.eventIds, [deleted.id]);
    assert.equal(app.ctx.metrics.scanRecoveredEvents.get instanceof Function, true);

    // The rerun finds nothing to do: no event, no message, no change.
    const [eventsBefore, messagesBefore] = [await eventCount(ws), (await messages(ws)).length];
    const rowBefore = await subRow(ws, 'sub_missed');
    const again = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(again.status, 'succeeded');
    assert.equal(again.counts.recoveredEvents, 0);
    assert.equal(again.counts.repaired, 0);
    assert.equal(await eventCount(ws), eventsBefore);
    assert.equal((await messages(ws)).length, messagesBefore);
    assert.deepEqual(await subRow(ws, 'sub_missed'), rowBefore);
  });

  test('with access still live after the recovered cancellation: access_unpaid opens after the scan and resolves when the access ends', async () => {
    const ws = await workspace('missed cancel with access');
    const summary = (keys: string[], created: number) =>
      stripeEvent(
        'entitlements.active_entitlement_summary.updated',
        {
          object: 'entitlements.active_entitlement_summary',
          customer: 'cus_sub_gone',
          livemode: false,
          entitlements: {
            object: 'list',
            data: keys.map((k) => ({ id: `ent_${k}`, object: 'entitlements.active_entitlement', lookup_key: k, feature: `feat_${k}` })),
          },
        },
        { created },
      );
    await deliver(ws, stripeEvent('customer.subscription.created', subscription('sub_gone', 'active'), { created: nowS() - 5000 }));
    await deliver(ws, summary(['premium'], nowS() - 4900));
    const canceled = subscription('sub_gone', 'canceled');
    const deleted = JSON.parse(stripeEvent('customer.subscription.deleted', canceled, { created: nowS() - 1000 }));
    stripe.events.push(deleted);
    stripe.objects.set('sub_gone', canceled);
    stripe.objects.set('cus_sub_gone', customer('cus_sub_gone'));

    const run = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.error ?? null, null, 'the checks after the scan ran');
    assert.equal((await subRow(ws, 'sub_gone')).status, 'canceled');
    assert.equal((await messages(ws)).filter((m) => m.type === 'subscription.ended').length, 1);
    const [unpaid] = await incidents(ws, 'access_unpaid');
    assert.ok(unpaid, 'access_unpaid opened by the checks after the scan');
    assert.equal(unpaid.status, 'open');
    const opened = (await messages(ws)).filter((m) => m.type === 'incident.opened' && (m.data as any).incident.kind === 'access_unpaid');
    assert.equal(opened.length, 1);

    // A rerun changes nothing and publishes nothing: the standing finding folds into the open incident.
    const messagesBefore = (await messages(ws)).length;
    const again = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(again.status, 'succeeded');
    assert.equal((await messages(ws)).length, messagesBefore);
    assert.equal((await incidents(ws, 'access_unpaid')).length, 1);

    // Stripe ends the entitlement; the next check of the customer is clean and resolves the incident, once.
    await deliver(ws, summary([], nowS() - 500));
    const customerId = (
      await q<{ id: string }>(`SELECT id FROM customers WHERE workspace_id = $1 AND provider_id = 'cus_sub_gone'`, [ws])
    )[0]!.id;
    await checkCustomers(app.ctx, { workspaceId: ws, customerIds: [customerId], trigger: 'manual' });
    const [after] = await incidents(ws, 'access_unpaid');
    assert.equal(after.status, 'resolved');
    const resolved = (await messages(ws)).filter((m) => m.type === 'incident.resolved' && (m.data as any).incident.id === unpaid.id);
    assert.equal(resolved.length, 1);
  });

  test('a subscription the CRM has wrong is repaired from the API by one event of deterministic id; a rerun makes none', async () => {
    const ws = await workspace('repair');
    await deliver(ws, stripeEvent('customer.subscription.created', subscription('sub_drift', 'active'), { created: nowS() - 3000 }));
    // Stripe says past_due now; no event of it is listed (older than the window, or never sent).
    stripe.objects.set('sub_drift', subscription('sub_drift', 'past_due'));
    const run = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 60_000) });
    assert.equal(run.status, 'succeeded');
    assert.equal(run.counts.repaired, 1);
    assert.equal((await subRow(ws, 'sub_drift')).status, 'past_due');
    const synthetic = await q(
      `SELECT provider_event_id, recovered FROM events WHERE workspace_id = $1 AND provider_event_id LIKE 'evt_sluice_%'`,
      [ws],
    );
    assert.equal(synthetic.length, 1);
    assert.equal(synthetic[0].recovered, true);
    // A repair is not a Stripe event: no raw stripe.* message for it.
    assert.equal(
      (await messages(ws)).filter((m) => m.source_event_id === synthetic[0].provider_event_id && m.type.startsWith('stripe.')).length,
      0,
    );

    const events = await eventCount(ws);
    const again = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 60_000) });
    assert.equal(again.counts.repaired, 0);
    assert.equal(await eventCount(ws), events);
  });

  test('an older provider answer never overwrites a newer CRM row', async () => {
    const ws = await workspace('older answer');
    // The CRM row was written by an event stamped after the moment the scan will fetch the list.
    await deliver(ws, stripeEvent('customer.subscription.created', subscription('sub_newer', 'active'), { created: nowS() + 600 }));
    stripe.objects.set('sub_newer', subscription('sub_newer', 'past_due'));
    const events = await eventCount(ws);
    const run = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 60_000) });
    assert.equal(run.status, 'succeeded');
    assert.equal((await subRow(ws, 'sub_newer')).status, 'active');
    assert.equal(await eventCount(ws), events, 'no repair event was made');
  });

  test('a subscription Stripe no longer knows (404) becomes a tombstone that ends it', async () => {
    const ws = await workspace('tombstone');
    await deliver(ws, stripeEvent('customer.subscription.created', subscription('sub_gone', 'active'), { created: nowS() - 3000 }));
    stripe.objects.delete('sub_gone');
    const run = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 60_000) });
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.counts.tombstones, 1);
    const row = await subRow(ws, 'sub_gone');
    assert.equal(row.deleted, true);
    assert.equal(row.status, 'canceled');
    const ended = (await messages(ws)).filter((m) => m.type === 'subscription.ended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.recovered, true);
    // A late event of the old state cannot bring it back.
    await deliver(ws, stripeEvent('customer.subscription.updated', subscription('sub_gone', 'active'), { created: nowS() + 5 }));
    assert.equal((await subRow(ws, 'sub_gone')).status, 'canceled');
  });

  test('429 answers slow the scan down (Retry-After honoured) but it completes', async () => {
    const ws = await workspace('rate limited');
    stripe.objects.set('sub_429', subscription('sub_429', 'active'));
    stripe.objects.set('cus_sub_429', customer('cus_sub_429'));
    stripe.rateLimit = { count: 2, retryAfter: '1', shouldRetry: 'true' };
    const started = Date.now();
    const run = await scan({ workspaceId: ws, provider: 'stripe', since: new Date(Date.now() - 60_000) });
    const took = Date.now() - started;
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.counts.rateLimited, 2);
    assert.ok(took >= 1900, `two Retry-After: 1 waits, took ${took} ms`);
    assert.equal((await subRow(ws, 'sub_429')).status, 'active', 'the scan went on to repair the missing subscription');
    stripe.objects.delete('sub_429');
  });

  test('a refused key fails the scan with a scan_failed incident; the next good scan resolves it', async () => {
    const ws = await workspace('revoked', 'sk_test_revokedkey0000');
    const run = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(run.status, 'failed');
    assert.match(run.error!, /refused the API key/);
    assert.doesNotMatch(run.error!, /sk_test_revokedkey0000/, 'the key is never shown');
    const [failed] = await incidents(ws, 'scan_failed');
    assert.equal(failed.status, 'open');
    assert.equal(failed.dedup_key, `scan_failed:stripe:${ws}`);

    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { apiKey: stripe.apiKey });
    assert.equal(res.status, 200);
    const ok = await scan({ workspaceId: ws, provider: 'stripe' });
    assert.equal(ok.status, 'succeeded');
    assert.equal((await incidents(ws, 'scan_failed'))[0].status, 'resolved');
  });

  test('a missing key or an answer that is not JSON is a scan_failed, never a silent skip', async () => {
    const noKey = await workspace('no key', null);
    const run = await scan({ workspaceId: noKey });
    assert.equal(run.status, 'failed');
    assert.match(run.error!, /no Stripe API key/);
    assert.equal((await incidents(noKey, 'scan_failed')).length, 1);

    const ws = await workspace('garbage');
    stripe.garbage = '<html>502 Bad Gateway</html>';
    try {
      const bad = await scan({ workspaceId: ws, provider: 'stripe' });
      assert.equal(bad.status, 'failed');
      assert.equal((await incidents(ws, 'scan_failed')).length, 1);
    } finally {
      stripe.garbage = undefined;
    }
  });

  test('a dry run reports what would change and changes nothing', async () => {
    const ws = await workspace('dry run');
    await deliver(ws, stripeEvent('customer.subscription.created', subscription('sub_dry', 'active'), { created: nowS() - 3000 }));
    const lost = JSON.parse(stripeEvent('customer.subscription.deleted', subscription('sub_dry', 'canceled'), { created: nowS() - 100 }));
    stripe.events.push(lost);
    stripe.objects.set('sub_dry', subscription('sub_dry', 'canceled'));
    const [events, msgs] = [await eventCount(ws), (await messages(ws)).length];
    const run = await scan({ workspaceId: ws, provider: 'stripe', dryRun: true });
    assert.equal(run.status, 'succeeded');
    assert.equal(run.counts.recoveredEvents, 1);
    assert.equal(run.counts.repaired, 1);
    assert.deepEqual(
      run.examples.map((e: any) => [e.action, e.id]),
      [
        ['recover', lost.id],
        ['repair', 'sub_dry'],
      ],
    );
    assert.equal(await eventCount(ws), events);
    assert.equal((await messages(ws)).length, msgs);
    assert.equal((await subRow(ws, 'sub_dry')).status, 'active');
    assert.equal((await incidents(ws, 'webhook_missed')).length, 0);
    stripe.objects.delete('sub_dry');
  });

  test('a scan stopped after a page is taken over once its heartbeat is stale and resumes from its cursor', async () => {
    const ws = await workspace('resume');
    for (let i = 0; i < 250; i++) {
      const id = `sub_r${String(i).padStart(3, '0')}`;
      stripe.objects.set(id, subscription(id, 'active', { customer: 'cus_resume', created: 1_790_000_000 + i }));
    }
    stripe.objects.set('cus_resume', customer('cus_resume'));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const subscriptionPages: StripeApiRequest[] = [];
    stripe.beforeAnswer = async (req) => {
      if (req.path !== '/v1/subscriptions' || req.method !== 'GET') return;
      subscriptionPages.push(req);
      if (subscriptionPages.length === 2) await held; // the second page: the scan is "killed" while it waits
    };
    try {
      const { runId } = await startScan(app.ctx, {
        workspaceId: ws,
        provider: 'stripe',
        since: new Date(Date.now() - 60_000),
        startedBy: 'manual',
      });
      await waitFor(async () => subscriptionPages.length === 2, 'the second page asked for');
      const stopping = stopScans(app.ctx); // a crash: the run is left running, its heartbeat goes stale
      release();
      await stopping;
      const saved = (await q(`SELECT status, progress, owner FROM check_runs WHERE id = $1`, [runId]))[0];
      assert.equal(saved.status, 'running');
      assert.equal(saved.progress.phase, 'subscriptions');
      const cursor = saved.progress.cursor;
      assert.equal(cursor, subscriptionPages[1]!.form.get('starting_after'));
      assert.equal(await resumeScans(app.ctx), 0, 'a fresh heartbeat is not taken over');

      clockOffset += 3 * 60_000;
      assert.equal(await resumeScans(app.ctx), 1);
      await runScanToEnd(app.ctx, runId);
      const run = (await getScan(app.ctx, ws, runId))!;
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      const afterResume = subscriptionPages.slice(2);
      assert.equal(afterResume[0]!.form.get('starting_after'), cursor, 'resumed from the saved cursor, not from the start');
      assert.ok(
        afterResume.every((r) => r.form.get('starting_after')),
        'the first page was not asked again',
      );
      const n = (
        await q<{ n: number }>(
          `SELECT count(*)::int AS n FROM subscriptions WHERE workspace_id = $1 AND provider_id LIKE 'sub_r%' AND NOT stub`,
          [ws],
        )
      )[0]!.n;
      assert.equal(n, 250);
    } finally {
      stripe.beforeAnswer = undefined;
      for (let i = 0; i < 250; i++) stripe.objects.delete(`sub_r${String(i).padStart(3, '0')}`);
    }
  });

  test('one live scan per workspace: a second start returns the running one', async () => {
    const ws = await workspace('one at a time');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    stripe.beforeAnswer = async (req) => {
      if (req.path === '/v1/events') await held;
    };
    try {
      const first = await startScan(app.ctx, { workspaceId: ws, provider: 'stripe', startedBy: 'manual' });
      const second = await startScan(app.ctx, { workspaceId: ws, startedBy: 'schedule' });
      assert.deepEqual(second, { runId: first.runId, alreadyRunning: true });
      release();
      await runScanToEnd(app.ctx, first.runId);
      const third = await startScan(app.ctx, { workspaceId: ws, provider: 'stripe', startedBy: 'manual' });
      assert.equal(third.alreadyRunning, false);
      await runScanToEnd(app.ctx, third.runId);
    } finally {
      stripe.beforeAnswer = undefined;
    }
  });

  test('POST …/scans answers 202 {runId}; bad input is one 422 listing every problem and starts nothing', async () => {
    const ws = await workspace('api');
    const bad = await app.api('POST', `/api/v1/workspaces/${ws}/scans`, { provider: 'paypal', since: 'last tuesday', dryRun: true });
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
    assert.deepEqual(
      bad.body.error.problems.map((p: any) => p.path),
      ['provider', 'since'],
    );
    const old = await app.api('POST', `/api/v1/workspaces/${ws}/scans`, { since: '45d' });
    assert.equal(old.status, 422);
    assert.match(old.body.error.message, /30 days/);
    assert.equal((await q(`SELECT count(*)::int AS n FROM check_runs WHERE workspace_id = $1`, [ws]))[0].n, 0);

    const res = await app.api('POST', `/api/v1/workspaces/${ws}/scans`, { provider: 'stripe', since: '7d' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.match(res.body.runId, /^run_/);
    await runScanToEnd(app.ctx, res.body.runId);
    const got = await app.api('GET', `/api/v1/workspaces/${ws}/scans/${res.body.runId}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.status, 'succeeded');
    assert.equal(got.body.scope.startedBy, 'manual');
    assert.ok(Math.abs(Date.parse(got.body.scope.since) - (Date.now() - 7 * 86_400_000)) < 10 * 60_000);
    assert.ok(got.body.counts.apiRequests >= 5, 'two type groups of events, twice, then the subscriptions');
    const other = await workspace('api other');
    assert.equal((await app.api('GET', `/api/v1/workspaces/${other}/scans/${res.body.runId}`)).status, 404);
  });

  test('sluice scan runs in the foreground with progress on stderr and a summary; bad options are refused', async () => {
    const store = await createTestStore();
    const adminToken = 'scan_cli_admin_token_0123456789';
    const env = { ...store.env, SLUICE_ADMIN_TOKEN: adminToken, SLUICE_STRIPE_API_URL: stripe.url.href, SLUICE_SCAN_RATE_TEST: '0' };
    const server = await startSluiceProcess(env);
    try {
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${server.url}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const ws = (await call('POST', '/workspaces', { name: 'cli scan' })).body.id as string;
      assert.equal(
        (await call('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET], apiKey: stripe.apiKey })).status,
        200,
      );
      const lost = JSON.parse(stripeEvent('customer.subscription.created', subscription('sub_cli', 'active'), { created: nowS() - 100 }));
      stripe.events.push(lost);
      stripe.objects.set('sub_cli', subscription('sub_cli', 'active'));

      const dry = await runSluice(['scan', '--workspace', ws, '--since', '1d', '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /dry run: nothing was changed/);
      assert.match(dry.stdout, new RegExp(`would recover stripe ${lost.id}`));

      const res = await runSluice(['scan', '--workspace', ws, '--since', '1d'], env);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /requests/);
      assert.match(res.stdout, /succeeded/);
      assert.match(res.stdout, /1 event\(s\) recovered/);
      const subs = await call('GET', `/workspaces/${ws}/subscriptions`);
      assert.equal(subs.body.data[0]?.status, 'active');

      const bad = await runSluice(['scan', '--workspace', ws, '--since', '45d'], env);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /30 days/);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
      await store.drop();
    }
  });

  test('Piano: an undelivered webhook is recovered and a subscription Piano ended is ended in the CRM', async () => {
    const privateKey = 'ScanTestPianoPrivateKey0123456789ABCDEFG';
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'piano scan' })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, {
      aid: 'AIDSCAN01',
      privateKey,
      apiToken: 'piano_token_scan',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const grant = {
      version: 2,
      type: 'access_granted',
      event: 'new_purchase',
      aid: 'AIDSCAN01',
      uid: 'PNI_scan_user',
      rid: 'R_GOLD',
      access_id: 'acc_piano_1',
      user_email: 'reader@example.com',
      expires: nowS() + 30 * 86400,
    };
    const data = pianoData(grant, privateKey);
    const t = nowS(); // the answers are the same at every call
    piano.answer = (path, params) => {
      if (params.get('api_token') !== 'piano_token_scan') return { code: 401, message: 'Access denied' };
      if (path === '/publisher/webhook/list') {
        return {
          code: 0,
          total: 1,
          webhooks: [
            {
              webhook_id: 'WH1',
              status: 'failed',
              create_date: t - 600,
              last_webhook_response: { request_data: `data=${encodeURIComponent(data)}` },
            },
            { webhook_id: 'WH2', status: 'success', create_date: t - 500, last_webhook_response: { request_data: 'data=ignored' } },
          ],
        };
      }
      if (path === '/publisher/subscription/list') {
        return {
          code: 0,
          subscriptions: [
            {
              subscription_id: 'RCSUB1',
              status: 'expired',
              auto_renew: false,
              user: { uid: 'PNI_scan_user' },
              next_bill_date: nowS() - 86400,
            },
          ],
        };
      }
      if (path === '/publisher/user/access/list') {
        return {
          code: 0,
          accesses: [{ access_id: 'acc_piano_1', granted: true, revoked: false, resource: { rid: 'R_GOLD' }, expire_date: grant.expires }],
        };
      }
      return { code: 0 };
    };
    const run = await scan({ workspaceId: ws, provider: 'piano' });
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.counts.recoveredEvents, 1);
    const access = (await q(`SELECT status, provider_id FROM access WHERE workspace_id = $1`, [ws]))[0];
    assert.equal(access.status, 'active');
    const granted = (await messages(ws)).filter((m) => m.type === 'access.granted');
    assert.equal(granted.length, 1);
    assert.equal(messageBody(granted[0]!).source?.recovered, true);
    assert.equal((await subRow(ws, 'RCSUB1')).status, 'canceled');
    assert.equal((await incidents(ws, 'webhook_missed')).length, 1);

    const events = await eventCount(ws);
    const again = await scan({ workspaceId: ws, provider: 'piano' });
    assert.equal(again.counts.recoveredEvents, 0);
    assert.equal(again.counts.repaired, 0);
    assert.equal(await eventCount(ws), events);

    piano.answer = () => ({ code: 401, message: 'Access denied' });
    const refused = await scan({ workspaceId: ws, provider: 'piano' });
    assert.equal(refused.status, 'failed');
    assert.match(refused.error!, /Piano refused the API token/);
    assert.equal((await incidents(ws, 'scan_failed')).length, 1);
  });
  test('Piano: an access Piano now ends sooner than the CRM says is repaired to the expiry Piano reports', async () => {
    const privateKey = 'ScanTestPianoPrivateKey0123456789ABCDEFH';
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'piano scan expiry' })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, {
      aid: 'AIDSCAN02',
      privateKey,
      apiToken: 'piano_token_scan2',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const later = nowS() + 60 * 86400;
    const sooner = nowS() + 10 * 86400;
    const modified = {
      version: 2,
      type: 'access_modified',
      event: 'subscription_updated',
      aid: 'AIDSCAN02',
      uid: 'PNI_scan_short',
      rid: 'R_SHORT',
      access_id: 'acc_short_1',
      expires: later,
    };
    assert.equal((await sendPiano(app.url, ws, pianoData(modified, privateKey))).status, 200);
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
    const expiresOf = async () =>
      (
        await q<{ expires_at: Date }>(`SELECT expires_at FROM access WHERE workspace_id = $1 AND provider_id = 'acc_short_1'`, [ws])
      )[0]!.expires_at.toISOString();
    assert.equal(await expiresOf(), new Date(later * 1000).toISOString());

    // Piano shortened it (an admin's edit whose webhook never came); its user has a subscription the CRM lacks.
    piano.answer = (path) => {
      if (path === '/publisher/webhook/list') return { code: 0, total: 0, webhooks: [] };
      if (path === '/publisher/subscription/list') {
        return {
          code: 0,
          total: 1,
          subscriptions: [{ subscription_id: 'RCSHORT', status: 'active', auto_renew: true, user: { uid: 'PNI_scan_short' } }],
        };
      }
      if (path === '/publisher/user/access/list') {
        return {
          code: 0,
          total: 1,
          accesses: [{ access_id: 'acc_short_1', granted: true, revoked: false, resource: { rid: 'R_SHORT' }, expire_date: sooner }],
        };
      }
      return { code: 0 };
    };
    const run = await scan({ workspaceId: ws, provider: 'piano' });
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(await expiresOf(), new Date(sooner * 1000).toISOString(), 'the expiry Piano reports');
    const again = await scan({ workspaceId: ws, provider: 'piano' });
    assert.equal(again.counts.repaired, 0, 'nothing left to repair');
  });
  test('Piano: after a scan repaired a subscription, the next untimed renewal webhook still moves it to its new period', async () => {
    const privateKey = 'ScanTestPianoPrivateKey0123456789ABCDEFI';
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'piano scan then renewal' })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, {
      aid: 'AIDSCAN03',
      privateKey,
      apiToken: 'piano_token_scan3',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const p1 = nowS() + 10 * 86400;
    const p2 = p1 + 30 * 86400;
    // Version 1 renewals: no event time, ordered by the period they open.
    const renewal = (next: number) => ({
      type: 'subscription',
      event: 'subscription_auto_renewed',
      aid: 'AIDSCAN03',
      uid: 'PNI_scan_renew',
      rid: 'R_RENEW',
      subscription_id: 'RCRENEW',
      next_bill_date: next,
      expires: next,
    });
    const drained = () =>
      waitFor(async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0, 'processing');
    assert.equal((await sendPiano(app.url, ws, pianoData(renewal(p1), privateKey))).status, 200);
    await drained();
    // Auto-renewal was switched off in Piano and its webhook lost: the scan repairs it.
    piano.answer = (path) => {
      if (path === '/publisher/subscription/list') {
        return {
          code: 0,
          total: 1,
          subscriptions: [
            { subscription_id: 'RCRENEW', status: 'active', auto_renew: false, next_bill_date: p1, user: { uid: 'PNI_scan_renew' } },
          ],
        };
      }
      return { code: 0, total: 0, webhooks: [], accesses: [] };
    };
    const run = await scan({ workspaceId: ws, provider: 'piano' });
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal((await subRow(ws, 'RCRENEW')).cancel_at_period_end, true);

    // Switched on again and renewed: the renewal's webhook (untimed, as version 1 ones are) arrives.
    assert.equal((await sendPiano(app.url, ws, pianoData({ ...renewal(p2), auto_renew: true }, privateKey))).status, 200);
    await drained();
    const row = await subRow(ws, 'RCRENEW');
    assert.equal((row.current_period_end as Date).toISOString(), new Date(p2 * 1000).toISOString(), 'the new period');
    assert.equal(row.cancel_at_period_end, false);
    const rebuild = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, {});
    for (const [table, t] of Object.entries<any>(rebuild.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 }, table);
  });
});
