// The console's cookies behind the deployment docs/security.md describes: TLS ends at a reverse proxy, Sluice itself
// serves plain http, and SLUICE_PUBLIC_URL is the https address. The cookies must still be marked Secure.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { makeUser } from '../helpers/browser.js';

function cookiesOf(res: Response): string[] {
  return res.headers.getSetCookie();
}

async function signIn(app: TestApp, user: { email: string; password: string }): Promise<Response> {
  const page = await fetch(`${app.url}/login`);
  const pre = cookiesOf(page)
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  return fetch(`${app.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, email: user.email, password: user.password, next: '/' }),
  });
}

describe('console cookies behind a TLS proxy (SLUICE_PUBLIC_URL https)', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ config: { publicUrl: 'https://sluice.example.test' } });
  });
  after(() => app.close());

  test('the pre-session and session cookies are Secure, HttpOnly and SameSite=Lax', async () => {
    const page = await fetch(`${app.url}/login`);
    const pre = cookiesOf(page);
    assert.ok(pre.length > 0);
    for (const c of pre) assert.match(c, /; Secure/, c.split('=')[0]);
    const user = await makeUser(app, 'admin');
    const res = await signIn(app, user);
    assert.equal(res.status, 303);
    const session = cookiesOf(res).find((c) => c.startsWith('sluice_session='));
    assert.ok(session);
    assert.match(session, /; HttpOnly/);
    assert.match(session, /; SameSite=Lax/);
    assert.match(session, /; Secure/);
  });
});

describe('console cookies on plain http without an https public URL', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  test('are not Secure (a Secure cookie is never sent back over http: nobody could sign in on localhost)', async () => {
    const user = await makeUser(app, 'admin');
    const res = await signIn(app, user);
    assert.equal(res.status, 303);
    const session = cookiesOf(res).find((c) => c.startsWith('sluice_session='));
    assert.ok(session);
    assert.doesNotMatch(session, /Secure/);
  });
});
