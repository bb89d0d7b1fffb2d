// A master key that no longer opens the stored secrets: a clear refusal to start (cause and fix), and, for a
// workspace whose secrets alone are unreadable, 503 SECRET_UNREADABLE on its webhooks plus a health signal.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { pianoData, sendPiano } from '../helpers/piano.js';
import { runSluice, startSluiceProcess } from '../helpers/sluice-process.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_master_key_0123456789';
const TOKEN = 'master_key_test_admin_token_0123456789';
const PIANO_KEY = 'PianoMasterKeyTest0123456789abcdefghij';
const AID = 'AppMaster1';

test(
  'a replaced master key stops the start with the cause and the fix; the opt-out starts and reports it',
  { timeout: 120_000 },
  async () => {
    const store = await createTestStore();
    const keyA = randomBytes(32).toString('base64');
    const keyB = randomBytes(32).toString('base64');
    try {
      const first = await startSluiceProcess({ ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, SLUICE_SECRET_KEY: keyA });
      const call = (url: string, method: string, p: string, body?: unknown) =>
        fetch(`${url}/api/v1${p}`, {
          method,
          headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
      const ws = (await call(first.url, 'POST', '/workspaces', { name: 'Rekeyed' })).body.id;
      assert.equal((await call(first.url, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
      first.proc.kill('SIGTERM');
      assert.equal((await first.exited).code, 0);

      const refused = await runSluice(['start', '--port', '0'], { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, SLUICE_SECRET_KEY: keyB });
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /master key \(SLUICE_SECRET_KEY\) does not open any of the 1 most recently saved connection secrets/);
      assert.match(refused.stderr, /Restore the previous key/);
      assert.match(refused.stderr, /SLUICE_ALLOW_UNREADABLE_SECRETS=1/);
      assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(refused.stderr.includes(keyA) || refused.stderr.includes(keyB), false, 'no key in the message');

      const allowed = await startSluiceProcess({
        ...store.env,
        SLUICE_ADMIN_TOKEN: TOKEN,
        SLUICE_SECRET_KEY: keyB,
        SLUICE_ALLOW_UNREADABLE_SECRETS: '1',
      });
      try {
        const payload = stripeEvent('customer.created');
        const res = await postStripe(allowed.url, ws, payload, signStripe(payload, SECRET));
        assert.equal(res.status, 503);
        assert.equal(res.body.error.code, 'SECRET_UNREADABLE');
        const health = await call(allowed.url, 'GET', `/workspaces/${ws}/health`);
        assert.equal(health.body.providers.stripe.credentials, 'unreadable');
      } finally {
        allowed.proc.kill('SIGTERM');
        await allowed.exited;
      }
    } finally {
      await store.drop();
    }
  },
);

describe('secrets of one workspace unreadable at runtime', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  async function connected(name: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id;
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid: AID, privateKey: PIANO_KEY })).status, 200);
    return ws;
  }

  test('its webhooks answer 503 SECRET_UNREADABLE, its health says so, a full save repairs it; others are untouched', async () => {
    const broken = await connected('partially re-keyed');
    const fine = await connected('untouched');
    // As after a re-key that stopped half way: this workspace's values are sealed with another key.
    const foreign = createSecretBox(randomBytes(32).toString('base64'));
    await app.db.query(`UPDATE connections SET secrets_sealed = $2 WHERE workspace_id = $1`, [
      broken,
      foreign.seal(JSON.stringify({ webhookSecrets: [SECRET], privateKey: PIANO_KEY })),
    ]);

    const payload = stripeEvent('customer.created');
    const stripe = await postStripe(app.url, broken, payload, signStripe(payload, SECRET));
    assert.equal(stripe.status, 503);
    assert.equal(stripe.body.error.code, 'SECRET_UNREADABLE');
    assert.match(stripe.body.error.message, /cannot be decrypted with the current master key.*restore the previous key/);
    assert.doesNotMatch(JSON.stringify(stripe.body), /\bat .*\.ts:\d+/, 'no stack trace');
    const piano = await sendPiano(app.url, broken, pianoData({ type: 'user_created', aid: AID, uid: 'u1' }, PIANO_KEY));
    assert.equal(piano.status, 503);
    assert.equal(piano.body.error.code, 'SECRET_UNREADABLE');
    assert.equal((await postStripe(app.url, fine, payload, signStripe(payload, SECRET))).status, 200, 'another workspace is unaffected');

    const health = (await app.api('GET', `/api/v1/workspaces/${broken}/health`)).body.providers;
    assert.equal(health.stripe.credentials, 'unreadable');
    assert.equal(health.piano.credentials, 'unreadable');
    assert.equal((await app.api('GET', `/api/v1/workspaces/${fine}/health`)).body.providers.stripe.credentials, 'ok');
    const view = await app.api('GET', `/api/v1/workspaces/${broken}/connections/stripe`);
    assert.equal(view.status, 200);
    assert.equal(view.body.secretsReadable, false);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(metrics, /reason="secret_unreadable"/);

    // A partial save cannot keep what cannot be read: refused, nothing changed. A full save replaces it.
    const partial = await app.api('PUT', `/api/v1/workspaces/${broken}/connections/stripe`, { webhookSecrets: [SECRET] });
    assert.equal(partial.status, 503);
    assert.equal(partial.body.error.code, 'SECRET_UNREADABLE');
    const full = await app.api('PUT', `/api/v1/workspaces/${broken}/connections/stripe`, { webhookSecrets: [SECRET], apiKey: null });
    assert.equal(full.status, 200, JSON.stringify(full.body));
    assert.equal(full.body.secretsReadable, true);
    assert.equal((await postStripe(app.url, broken, payload, signStripe(payload, SECRET))).status, 200);
  });
});
