// The setup link printed at start creates the first admin, and only the first: once someone else has made a user
// (the API, `sluice user create`, another setup link), a link still in an old log line makes no admin.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureSetupLink } from '../../src/services/users/ensure-setup-link.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

async function setupForm(link: string): Promise<{ status: number; cookie: string; csrf: string | undefined }> {
  const page = await fetch(link);
  const cookie = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { status: page.status, cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] };
}

async function redeem(app: TestApp, link: string, email: string): Promise<Response> {
  // The login page hands out the pre-session CSRF cookie and token the setup form needs too.
  const form = await setupForm(`${app.url}/login`);
  const token = new URL(link).searchParams.get('token')!;
  return fetch(`${app.url}/setup`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      _csrf: form.csrf!,
      token,
      email,
      password: 'a-long-enough-password-1',
      confirm: 'a-long-enough-password-1',
    }),
  });
}

describe('the setup link', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
  });
  after(() => app.close());

  test('once a user exists, a setup link made while there was none creates no admin (410 LINK_UNUSABLE)', async () => {
    const link = await ensureSetupLink(app.ctx);
    assert.ok(link, 'no user yet: a link is offered');
    // Before anyone uses the link, the operator makes the first user another way.
    const made = await app.api('POST', '/api/v1/users', { email: 'first@example.com', password: 'first-admin-password-1', role: 'admin' });
    assert.equal(made.status, 201);

    assert.equal((await setupForm(link)).status, 410, 'the form is not offered');
    const res = await redeem(app, link, 'intruder@example.com');
    assert.equal(res.status, 410);
    assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('sluice_session=')), 'nobody was signed in');
    const users = await app.api('GET', '/api/v1/users');
    assert.deepEqual(
      users.body.data.map((u: { email: string }) => u.email),
      ['first@example.com'],
    );
  });
});
