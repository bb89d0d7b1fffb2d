// What a running Sluice logs, at the most verbose level, while it is handed secrets in every place a request
// can carry them: none of them, no query string and no body may appear in its output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestStore } from '../helpers/db.js';
import { startSluiceProcess } from '../helpers/sluice-process.js';
import { signStripe, stripeEvent } from '../helpers/stripe.js';

const TOKEN = 'log_safety_admin_token_0123456789';

test('no secret, query string, header value or body reaches the log', { timeout: 120_000 }, async () => {
  const store = await createTestStore();
  const sluice = await startSluiceProcess({ ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'trace' });
  const markers = {
    webhookSecret: 'whsec_LOGMARKERsecretAAAAAAAAAAAAAAAA',
    apiKey: 'sk_test_LOGMARKERapikeyBBBBBBBBBBBBBB',
    query: 'LOGMARKERqueryCCCC',
    wrongToken: 'LOGMARKERtokenDDDD',
    signature: 'LOGMARKERsigEEEE',
    email: 'logmarker.person@example.com',
    pianoKey: 'LOGMARKERpianoKeyFFFFFFFFFFFFFFFFFFFFFF',
  };
  const api = (method: string, path: string, body?: unknown, token = TOKEN) =>
    fetch(`${sluice.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  try {
    const ws = ((await (await api('POST', '/workspaces', { name: 'Logs' })).json()) as { id: string }).id;
    assert.equal(
      (await api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [markers.webhookSecret], apiKey: markers.apiKey }))
        .status,
      200,
    );
    assert.equal(
      (await api('PUT', `/workspaces/${ws}/connections/piano`, { aid: 'LogAid0001', privateKey: markers.pianoKey })).status,
      200,
    );
    assert.equal((await api('GET', `/workspaces/${ws}/customers?q=${markers.query}&email=${markers.email}`)).status, 200);
    assert.equal((await api('GET', '/workspaces', undefined, markers.wrongToken)).status, 401);
    // A signed event carrying personal data, and one with a bad signature header.
    const payload = stripeEvent('customer.created', { object: 'customer', email: markers.email, name: 'Log Marker' });
    const signed = await fetch(`${sluice.url}/webhooks/stripe/${ws}?${markers.query}=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(payload, markers.webhookSecret) },
      body: payload,
    });
    assert.equal(signed.status, 200);
    const forged = await fetch(`${sluice.url}/webhooks/stripe/${ws}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': `t=1,v1=${markers.signature}` },
      body: payload,
    });
    assert.equal(forged.status, 400);
    // Piano sends its payload in the query string.
    const piano = await fetch(`${sluice.url}/webhooks/piano/${ws}?type=webhook&data=${markers.query}`);
    assert.equal(piano.status, 400);
    // Let the worker process the event (its logs count too).
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    sluice.proc.kill('SIGTERM');
    await sluice.exited;
    await store.drop();
  }
  const log = sluice.output();
  assert.ok(log.includes('"msg":"incoming request"'), 'trace level logged the requests');
  for (const [what, marker] of Object.entries(markers)) {
    assert.ok(!log.includes(marker), `the log contains the ${what}`);
  }
  assert.ok(!/"url":"[^"]*\?/.test(log), 'a logged URL carries a query string');
});
