// Tokens, workspace scoping, validation and the write-only handling of secrets.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

describe('management API access', () => {
  let app: TestApp;
  let wsA: string;
  let wsB: string;
  let keyA: string;

  before(async () => {
    app = await startTestApp({ worker: false });
    wsA = (await app.api('POST', '/api/v1/workspaces', { name: 'A' })).body.id;
    wsB = (await app.api('POST', '/api/v1/workspaces', { name: 'B' })).body.id;
    const key = await app.api('POST', `/api/v1/workspaces/${wsA}/api-keys`, { name: 'ci' });
    assert.equal(key.status, 201);
    keyA = key.body.key;
    assert.match(keyA, /^sk_ws_/);
  });
  after(() => app.close());

  test('every /api/v1 route needs a valid token', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/workspaces'],
      ['POST', '/api/v1/workspaces'],
      ['GET', `/api/v1/workspaces/${wsA}/events`],
      ['GET', `/api/v1/workspaces/${wsA}/health`],
      ['PUT', `/api/v1/workspaces/${wsA}/connections/stripe`],
    ] as const) {
      const none = await fetch(`${app.url}${path}`, { method });
      assert.equal(none.status, 401, `${method} ${path} without a token`);
      const bad = await app.api(method, path, undefined, 'not-a-real-token');
      assert.equal(bad.status, 401, `${method} ${path} with a bad token`);
      assert.equal(bad.body.error.code, 'UNAUTHORIZED');
    }
  });

  test('a workspace key sees its workspace and gets 404 on another', async () => {
    assert.equal((await app.api('GET', `/api/v1/workspaces/${wsA}`, undefined, keyA)).status, 200);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${wsA}/events`, undefined, keyA)).status, 200);
    for (const path of [`/api/v1/workspaces/${wsB}`, `/api/v1/workspaces/${wsB}/events`, `/api/v1/workspaces/${wsB}/health`]) {
      const res = await app.api('GET', path, undefined, keyA);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'WORKSPACE_NOT_FOUND');
    }
    const put = await app.api('PUT', `/api/v1/workspaces/${wsB}/connections/stripe`, { webhookSecrets: ['whsec_abcdefghij'] }, keyA);
    assert.equal(put.status, 404);
    const list = await app.api('GET', '/api/v1/workspaces', undefined, keyA);
    assert.deepEqual(
      list.body.data.map((w: any) => w.id),
      [wsA],
    );
    assert.equal((await app.api('POST', '/api/v1/workspaces', { name: 'C' }, keyA)).status, 403);
  });

  test('workspaces: create validates, lists newest first with cursor pagination', async () => {
    const bad = await app.api('POST', '/api/v1/workspaces', { name: '' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
    const notJson = await fetch(`${app.url}/api/v1/workspaces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.adminToken}`, 'content-type': 'application/json' },
      body: '{nope',
    });
    assert.equal(notJson.status, 400);

    const created = await app.api('POST', '/api/v1/workspaces', { name: 'Paged' });
    assert.equal(created.status, 201);
    assert.match(created.body.id, /^ws_/);
    assert.equal(created.body.webhookUrls.stripe, `${app.url}/webhooks/stripe/${created.body.id}`);
    const first = await app.api('GET', '/api/v1/workspaces?limit=2');
    assert.equal(first.body.data.length, 2);
    assert.equal(first.body.data[0].id, created.body.id);
    assert.ok(first.body.nextCursor);
    const second = await app.api('GET', `/api/v1/workspaces?limit=2&cursor=${first.body.nextCursor}`);
    const seen = [...first.body.data, ...second.body.data].map((w: any) => w.id);
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.includes(wsA) && seen.includes(wsB));
    assert.equal((await app.api('GET', '/api/v1/workspaces?limit=9999')).status, 400);
  });

  test('Stripe secrets are write-only and validated', async () => {
    const secret = 'whsec_supersecretvalue123';
    const apiKey = 'sk_test_51SuperSecretApiKey';
    const put = await app.api('PUT', `/api/v1/workspaces/${wsA}/connections/stripe`, { webhookSecrets: [secret], apiKey, mode: 'test' });
    assert.equal(put.status, 200);
    assert.equal(put.body.webhookSecretCount, 1);
    assert.equal(put.body.hasApiKey, true);
    const got = await app.api('GET', `/api/v1/workspaces/${wsA}/connections/stripe`);
    for (const body of [JSON.stringify(put.body), JSON.stringify(got.body)]) {
      assert.ok(!body.includes(secret) && !body.includes(apiKey), 'no secret in an answer');
    }
    const stored = await app.db.query<{ sealed: string }>('SELECT secrets_sealed AS sealed FROM connections');
    assert.ok(
      stored.rows.every((r) => !r.sealed.includes(secret)),
      'secrets are encrypted at rest',
    );

    const badSecret = await app.api('PUT', `/api/v1/workspaces/${wsA}/connections/stripe`, { webhookSecrets: ['not-a-secret-xyz'] });
    assert.equal(badSecret.status, 400);
    assert.ok(!JSON.stringify(badSecret.body).includes('not-a-secret-xyz'), 'errors do not echo secrets');
    const spaced = await app.api('PUT', `/api/v1/workspaces/${wsA}/connections/stripe`, { webhookSecrets: ['whsec_abc def ghi'] });
    assert.equal(spaced.status, 400);
    assert.match(spaced.body.error.message, /whitespace/);

    // Rotation by PUT: the new list replaces the old one; the API key is kept when not mentioned.
    const rotated = await app.api('PUT', `/api/v1/workspaces/${wsA}/connections/stripe`, { webhookSecrets: ['whsec_rotated_secret_1'] });
    assert.equal(rotated.body.hasApiKey, true);
    const payload = stripeEvent('customer.created');
    assert.equal((await postStripe(app.url, wsA, payload, signStripe(payload, secret))).status, 400);
    assert.equal((await postStripe(app.url, wsA, payload, signStripe(payload, 'whsec_rotated_secret_1'))).status, 200);
  });

  test('event list filters and validates', async () => {
    const bad = await app.api('GET', `/api/v1/workspaces/${wsA}/events?status=done`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /status/);
    const since = await app.api('GET', `/api/v1/workspaces/${wsA}/events?since=yesterday`);
    assert.equal(since.status, 400);
    // A day that does not exist is refused, not rolled over into March.
    const feb30 = await app.api('GET', `/api/v1/workspaces/${wsA}/events?since=2027-02-30T00:00:00Z`);
    assert.equal(feb30.status, 400);
    assert.match(feb30.body.error.message, /since is not a date that exists: 2027-02 has 28 days, not 30/);
    const missing = await app.api('GET', `/api/v1/workspaces/${wsA}/events/ev_nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'EVENT_NOT_FOUND');
  });
});
