// Idempotency-Key on POSTs that create things: the first answer replayed, a reused key refused, a duplicate
// in flight refused, keys scoped per credential, secrets in stored answers sealed.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseCidrs } from '../../src/lib/cidr.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startStripeApi, type StripeApiStandIn } from '../helpers/stripe-api.js';

/** A stand-in for Stripe that holds webhook-endpoint creation until released, so a request stays in flight. */
async function gatedStripe(
  upstream: StripeApiStandIn,
): Promise<{ url: URL; release: () => void; held: Promise<void>; close: () => Promise<void> }> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let markHeld!: () => void;
  const held = new Promise<void>((r) => (markHeld = r));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method === 'POST' && req.url?.startsWith('/v1/webhook_endpoints')) {
        markHeld();
        await gate;
      }
      const up = await fetch(new URL(req.url ?? '/', upstream.url), {
        method: req.method,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<
          string,
          string
        >,
        ...(req.method === 'GET' ? {} : { body: Buffer.concat(chunks) }),
      });
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await up.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    release,
    held,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('Idempotency-Key', () => {
  let app: TestApp;
  let stripe: StripeApiStandIn;
  let gate: Awaited<ReturnType<typeof gatedStripe>>;

  async function post(path: string, body: unknown, key: string | undefined, token = app.adminToken) {
    const res = await fetch(`${app.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, replayed: res.headers.get('idempotent-replayed'), text, body: text ? JSON.parse(text) : undefined };
  }

  async function workspaceCount(): Promise<number> {
    return (await app.api('GET', '/api/v1/workspaces?limit=500')).body.data.length;
  }

  before(async () => {
    stripe = await startStripeApi();
    gate = await gatedStripe(stripe);
    app = await startTestApp({ worker: false, config: { stripeApiUrl: gate.url, outboundAllow: parseCidrs('127.0.0.0/8').cidrs } });
  });
  after(async () => {
    await app.close();
    await gate.close();
    await stripe.close();
  });

  test('the same key and request get the first answer again, marked replayed, and create nothing more', async () => {
    const count = await workspaceCount();
    const first = await post('/api/v1/workspaces', { name: 'Once' }, 'create-once-1');
    assert.equal(first.status, 201);
    assert.equal(first.replayed, null);
    const second = await post('/api/v1/workspaces', { name: 'Once' }, 'create-once-1');
    assert.equal(second.status, 201);
    assert.equal(second.replayed, 'true');
    assert.equal(second.text, first.text);
    assert.equal(await workspaceCount(), count + 1);
  });

  test('the same body with its keys in another order is the same request', async () => {
    const first = await post('/api/v1/workspaces', { name: 'Ordered', demo: true }, 'order-1');
    assert.equal(first.status, 201);
    const again = await post('/api/v1/workspaces', { demo: true, name: 'Ordered' }, 'order-1');
    assert.equal(again.status, 201);
    assert.equal(again.replayed, 'true');
    assert.equal(again.body.id, first.body.id);
  });

  test('the same key with a different body is 422 IDEMPOTENCY_KEY_REUSED and creates nothing', async () => {
    assert.equal((await post('/api/v1/workspaces', { name: 'First' }, 'reuse-1')).status, 201);
    const count = await workspaceCount();
    const res = await post('/api/v1/workspaces', { name: 'Second' }, 'reuse-1');
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(await workspaceCount(), count);
  });

  test('an error answer is not kept: the corrected request may use the same key', async () => {
    const bad = await post('/api/v1/workspaces', { name: '' }, 'fix-and-retry');
    assert.equal(bad.status, 400);
    const good = await post('/api/v1/workspaces', { name: 'Fixed' }, 'fix-and-retry');
    assert.equal(good.status, 201);
    assert.equal(good.replayed, null);
  });

  test('keys are scoped per credential: another token with the same key is not a replay', async () => {
    const ws = (await post('/api/v1/workspaces', { name: 'Scoped' }, undefined)).body.id;
    const wsKey = (await post(`/api/v1/workspaces/${ws}/api-keys`, { name: 'k' }, undefined)).body.key;
    const body = { url: 'http://127.0.0.1:9/scoped' };
    const byAdmin = await post(`/api/v1/workspaces/${ws}/endpoints`, body, 'shared-key');
    const byKey = await post(`/api/v1/workspaces/${ws}/endpoints`, body, 'shared-key', wsKey);
    assert.equal(byAdmin.status, 201);
    assert.equal(byKey.status, 201);
    assert.equal(byKey.replayed, null);
    assert.notEqual(byKey.body.id, byAdmin.body.id);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/endpoints`)).body.data.length, 2, 'each credential created its own');
  });

  test('a replay repeats a secret shown once, which is stored sealed, not in clear', async () => {
    const ws = (await post('/api/v1/workspaces', { name: 'Secrets' }, undefined)).body.id;
    const first = await post(`/api/v1/workspaces/${ws}/endpoints`, { url: 'http://127.0.0.1:9/hook' }, 'endpoint-1');
    assert.equal(first.status, 201);
    assert.match(first.body.secret, /^whsec_/);
    const again = await post(`/api/v1/workspaces/${ws}/endpoints`, { url: 'http://127.0.0.1:9/hook' }, 'endpoint-1');
    assert.equal(again.replayed, 'true');
    assert.equal(again.body.secret, first.body.secret);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/endpoints`)).body.data.length, 1);
    const { rows } = await app.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM idempotency_keys WHERE response_sealed LIKE $1 OR response_sealed LIKE '%whsec_%'`,
      [`%${first.body.secret.slice(6)}%`],
    );
    assert.equal(rows[0]!.n, 0);
  });

  test('a duplicate while the first is still running is 409 IDEMPOTENCY_KEY_IN_USE; afterwards it replays', async () => {
    const ws = (await post('/api/v1/workspaces', { name: 'In flight' }, undefined)).body.id;
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { apiKey: stripe.apiKey })).status, 200);
    const path = `/api/v1/workspaces/${ws}/connections/stripe/endpoints`;
    const first = post(path, {}, 'managed-1');
    await gate.held;
    const duplicate = await post(path, {}, 'managed-1');
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.error.code, 'IDEMPOTENCY_KEY_IN_USE');
    gate.release();
    assert.equal((await first).status, 201);
    const replay = await post(path, {}, 'managed-1');
    assert.equal(replay.status, 201);
    assert.equal(replay.replayed, 'true');
    assert.equal(stripe.endpoints.length, 1, 'Stripe was asked once');
  });

  test('an expired key (24 h) may be used again', async () => {
    assert.equal((await post('/api/v1/workspaces', { name: 'Old' }, 'expiring')).status, 201);
    await app.db.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'expiring'`);
    const res = await post('/api/v1/workspaces', { name: 'New' }, 'expiring');
    assert.equal(res.status, 201);
    assert.equal(res.body.name, 'New');
  });

  test('a malformed key is 400 IDEMPOTENCY_KEY_INVALID and runs nothing', async () => {
    const count = await workspaceCount();
    for (const key of ['x'.repeat(256), 'with space']) {
      const res = await post('/api/v1/workspaces', { name: 'Never' }, key);
      assert.equal(res.status, 400, key);
      assert.equal(res.body.error.code, 'IDEMPOTENCY_KEY_INVALID');
    }
    assert.equal(await workspaceCount(), count);
  });
});
