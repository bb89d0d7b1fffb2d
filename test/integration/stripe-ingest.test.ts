// Inbound Stripe webhooks over real HTTP into the real database, signed by the official SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';
import { rejectionsSettled } from '../../src/services/ingest/inbound-runtime.js';

const SECRET = 'whsec_current_0123456789';
const OLD_SECRET = 'whsec_previous_0123456789';

describe('POST /webhooks/stripe/:workspaceId', () => {
  let app: TestApp;
  let ws: string;

  before(async () => {
    app = await startTestApp();
    const created = await app.api('POST', '/api/v1/workspaces', { name: 'Ingest' });
    ws = created.body.id;
    const put = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET, OLD_SECRET] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });
  after(() => app.close());

  const listByProviderId = async (providerEventId: string) =>
    (await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=500`)).body.data.filter((e: any) => e.providerEventId === providerEventId);

  test('a signed event is stored, listed and processed; an unknown type is ignored', async () => {
    const handled = stripeEvent('customer.created', { email: 'a@example.com' });
    const unknown = stripeEvent('radar.early_fraud_warning.created');
    for (const payload of [handled, unknown]) {
      const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
      assert.deepEqual(res, { status: 200, body: { received: true } });
    }
    const handledId = JSON.parse(handled).id;
    const unknownId = JSON.parse(unknown).id;
    const [h] = await waitFor(async () => {
      const rows = await listByProviderId(handledId);
      return rows[0]?.status === 'processed' && rows;
    }, 'processed');
    assert.equal(h.type, 'customer.created');
    await waitFor(async () => (await listByProviderId(unknownId))[0]?.status === 'ignored', 'ignored');

    const detail = await app.api('GET', `/api/v1/workspaces/${ws}/events/${h.id}`);
    assert.equal(detail.status, 200);
    assert.deepEqual(detail.body.payload, JSON.parse(handled));

    const health = await app.api('GET', `/api/v1/workspaces/${ws}/health`);
    assert.ok(health.body.providers.stripe.unhandledTypes.some((u: any) => u.type === 'radar.early_fraud_warning.created'));
    assert.ok(health.body.providers.stripe.lastEventAt);
  });

  test('both secrets of a rotation are accepted', async () => {
    for (const secret of [SECRET, OLD_SECRET]) {
      const payload = stripeEvent('invoice.paid');
      const res = await postStripe(app.url, ws, payload, signStripe(payload, secret));
      assert.equal(res.status, 200, `${secret}: ${JSON.stringify(res.body)}`);
      assert.equal((await listByProviderId(JSON.parse(payload).id)).length, 1);
    }
  });

  test('switched off, verified webhooks are answered 503 (Stripe retries) and nothing is stored; switched on, the retry is taken', async () => {
    const off = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { enabled: false });
    assert.equal(off.status, 200);
    assert.equal(off.body.enabled, false);
    const payload = stripeEvent('invoice.paid');
    const refused = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'CONNECTION_DISABLED');
    assert.equal((await listByProviderId(JSON.parse(payload).id)).length, 0, 'nothing stored');
    const on = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { enabled: true });
    assert.equal(on.body.enabled, true);
    const retried = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(retried.status, 200);
    assert.equal((await listByProviderId(JSON.parse(payload).id)).length, 1);
  });

  test('replaying an event received long ago is not processing lag: health measures from the replay', async () => {
    const payload = stripeEvent('customer.created', { email: 'old@example.com' });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    const [row] = await waitFor(async () => {
      const rows = await listByProviderId(JSON.parse(payload).id);
      return rows[0]?.status === 'processed' && rows;
    }, 'processed');
    // As if it had arrived an hour ago.
    await app.db.query("UPDATE events SET received_at = received_at - interval '1 hour' WHERE id = $1", [row.id]);
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events/${row.id}/replay`)).status, 202);
    await waitFor(async () => (await listByProviderId(JSON.parse(payload).id))[0]?.status === 'processed', 'replayed');
    const health = await app.api('GET', `/api/v1/workspaces/${ws}/health`);
    const mean = health.body.providers.stripe.lag.recentMeanSeconds as number;
    assert.ok(mean !== null && mean < 600, `recent mean lag ${mean} s: the replay was counted from the receipt`);
  });

  test('the same event twice gives one row and one processing', async () => {
    const payload = stripeEvent('customer.updated');
    const first = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    // A Stripe retry carries a new timestamp and signature for the same body.
    const second = await postStripe(app.url, ws, payload, signStripe(payload, SECRET, Math.floor(Date.now() / 1000) + 1));
    assert.deepEqual(first.body, { received: true });
    assert.deepEqual(second, { status: 200, body: { received: true, duplicate: true } });
    const rows = await waitFor(async () => {
      const r = await listByProviderId(JSON.parse(payload).id);
      return r[0]?.status === 'processed' && r;
    }, 'processed');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].attempts, 1);
  });

  test('forged, stale, unsigned and altered requests are answered 400 and never stored', async () => {
    const cases: [string, () => Promise<{ status: number; body: any }>, string][] = [];
    const wrong = stripeEvent('customer.created');
    cases.push(['wrong secret', () => postStripe(app.url, ws, wrong, signStripe(wrong, 'whsec_not_ours_at_all')), 'signature_mismatch']);
    const stale = stripeEvent('customer.created');
    cases.push([
      '301 s old',
      () => postStripe(app.url, ws, stale, signStripe(stale, SECRET, Math.floor(Date.now() / 1000) - 301)),
      'timestamp_outside_tolerance',
    ]);
    const unsigned = stripeEvent('customer.created');
    cases.push(['no header', () => postStripe(app.url, ws, unsigned, undefined), 'missing_header']);
    const original = stripeEvent('customer.created', { name: 'Ada' });
    const altered = original.replace('"Ada"', '"Adb"');
    assert.notEqual(altered, original);
    cases.push(['one byte altered', () => postStripe(app.url, ws, altered, signStripe(original, SECRET)), 'signature_mismatch']);
    const notEvent = JSON.stringify({ hello: 'world' });
    cases.push(['signed but not an event', () => postStripe(app.url, ws, notEvent, signStripe(notEvent, SECRET)), 'invalid_payload']);
    const notJson = 'id=evt_123&type=customer.created';
    cases.push(['signed but not JSON', () => postStripe(app.url, ws, notJson, signStripe(notJson, SECRET)), 'invalid_payload']);

    for (const [name, send, reason] of cases) {
      const res = await send();
      assert.equal(res.status, 400, name);
      assert.equal(res.body.error.code, 'SIGNATURE_INVALID', name);
      assert.equal(res.body.error.reason, reason, name);
    }
    for (const payload of [wrong, stale, unsigned, original]) {
      assert.deepEqual(await listByProviderId(JSON.parse(payload).id), [], 'a rejected event must not be stored');
    }
    await rejectionsSettled(app.ctx); // counts are written in the background
    const health = await app.api('GET', `/api/v1/workspaces/${ws}/health`);
    const rejections = Object.fromEntries(health.body.providers.stripe.rejections.map((r: any) => [r.reason, r.count]));
    assert.equal(rejections.signature_mismatch, 2);
    assert.equal(rejections.timestamp_outside_tolerance, 1);
    assert.equal(rejections.missing_header, 1);
    assert.equal(rejections.invalid_payload, 2);
    assert.ok(health.body.providers.stripe.lastSignatureFailure.reason);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(metrics, /sluice_inbound_rejections_total\{provider="stripe",reason="timestamp_outside_tolerance"\} 1/);
  });

  test('unknown workspace and unconnected provider are 404; a body over 1 MiB is 413', async () => {
    const payload = stripeEvent('customer.created');
    const unknown = await postStripe(app.url, 'ws_doesnotexist', payload, signStripe(payload, SECRET));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'WORKSPACE_NOT_FOUND');

    for (const path of ['/webhooks/stripe/%00', '/webhooks/stripe/ws_%00x']) {
      const nul = await fetch(`${app.url}${path}`, {
        method: 'POST',
        headers: { 'stripe-signature': signStripe(payload, SECRET) },
        body: payload,
      });
      // No workspace id can hold a NUL: refused as input before any lookup (a 500 from the database before).
      assert.equal(nul.status, 400, path);
      assert.equal(((await nul.json()) as any).error.code, 'VALIDATION_FAILED');
    }
    const nulPiano = await fetch(`${app.url}/webhooks/piano/%00?data=abc`);
    assert.equal(nulPiano.status, 400);

    const bare = (await app.api('POST', '/api/v1/workspaces', { name: 'Unconnected' })).body.id;
    const notConnected = await postStripe(app.url, bare, payload, signStripe(payload, SECRET));
    assert.equal(notConnected.status, 404);
    assert.equal(notConnected.body.error.code, 'PROVIDER_NOT_CONNECTED');

    const big = stripeEvent('customer.created', { padding: 'x'.repeat(1024 * 1024) });
    const tooBig = await postStripe(app.url, ws, big, signStripe(big, SECRET));
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.deepEqual(await listByProviderId(JSON.parse(big).id), []);
  });

  test('a demo workspace answers live-mode events with 200 and ignores them', async () => {
    const demo = (await app.api('POST', '/api/v1/workspaces', { name: 'Demo', demo: true })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${demo}/connections/stripe`, { webhookSecrets: [SECRET] });
    const live = stripeEvent('customer.created', {}, { livemode: true });
    const test_ = stripeEvent('customer.created', {}, { livemode: false });
    assert.equal((await postStripe(app.url, demo, live, signStripe(live, SECRET))).status, 200);
    assert.equal((await postStripe(app.url, demo, test_, signStripe(test_, SECRET))).status, 200);
    const events = async () => (await app.api('GET', `/api/v1/workspaces/${demo}/events`)).body.data;
    const rows = await waitFor(async () => {
      const r = await events();
      return r.every((e: any) => e.status !== 'received') && r;
    }, 'settled');
    const byId = Object.fromEntries(rows.map((e: any) => [e.providerEventId, e]));
    assert.equal(byId[JSON.parse(live).id].status, 'ignored');
    assert.match(byId[JSON.parse(live).id].error, /demo/);
    assert.equal(byId[JSON.parse(test_).id].status, 'processed');
  });

  test('error messages say what is actually wrong', async () => {
    const short = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['whsec_x'] });
    assert.equal(short.status, 400);
    assert.match(short.body.error.message, /webhookSecrets\[0\] is too short/);
    assert.doesNotMatch(short.body.error.message, /must start with/);
    const notWhsec = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['sk_test_0123456789'] });
    assert.match(notWhsec.body.error.message, /does not start with whsec_/);
    assert.equal(JSON.stringify(notWhsec.body).includes('sk_test_0123456789'), false, 'the value is never echoed');

    const payload = stripeEvent('customer.created');
    for (const header of ['v1=abcdef', `t=${Math.floor(Date.now() / 1000)},v1=abcdef`]) {
      const res = await postStripe(app.url, ws, payload, header);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.reason, 'malformed_header', header);
      assert.match(res.body.error.message, /t=<unix seconds> and v1=<64 hex characters>/);
    }
  });
});
