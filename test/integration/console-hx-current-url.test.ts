// A signed-out htmx request names the page to come back to in HX-Current-URL, a header anybody can send: a value
// that is not a URL must still get the sign-in answer (401 with HX-Redirect), never a 500.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';

let app: TestApp;
before(async () => {
  app = await startTestApp();
});
after(() => app.close());

test('a malformed HX-Current-URL of a signed-out htmx request is a 401 to the login, not a 500', async () => {
  for (const current of ['httpx', 'http://[', 'https://', 'http:%zz']) {
    const res = await fetch(`${app.url}/workspaces`, { headers: { 'hx-request': 'true', 'hx-current-url': current }, redirect: 'manual' });
    assert.equal(res.status, 401, current);
    assert.equal(res.headers.get('hx-redirect'), '/login', current);
  }
});

test('a well-formed HX-Current-URL still comes back after sign-in', async () => {
  const res = await fetch(`${app.url}/workspaces`, {
    headers: { 'hx-request': 'true', 'hx-current-url': 'http://127.0.0.1/workspaces?x=1' },
    redirect: 'manual',
  });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('hx-redirect'), `/login?next=${encodeURIComponent('/workspaces?x=1')}`);
});
