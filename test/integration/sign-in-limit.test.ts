// The sign-in limits (10 failures per address and email, 100 per address, in 15 minutes) hold for guesses sent all
// at once too: checking a password takes a scrypt hash (tens of milliseconds), and a burst of sign-ins that each
// looked at the count before any of them had failed was checked in full, every guess of it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCidrs } from '../../src/lib/cidr.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { makeUser } from '../helpers/browser.js';

async function signIn(
  app: TestApp,
  form: { cookie: string; csrf: string },
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${app.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: form.csrf, email, password, next: '/' }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The sign-in form's cookie and CSRF token, as a browser would have them. */
async function loginForm(app: TestApp): Promise<{ cookie: string; csrf: string }> {
  const page = await fetch(`${app.url}/login`);
  return {
    cookie: page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; '),
    csrf: /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!,
  };
}

describe('sign-in limits under concurrent guesses', () => {
  let app: TestApp;
  let form: { cookie: string; csrf: string };
  before(async () => {
    app = await startTestApp({ worker: false });
    form = await loginForm(app);
  });
  after(() => app.close());

  test(
    '30 guesses at one account sent at once: at most 10 are checked, the rest are 429; then the right password is 429 too',
    {
      timeout: 120_000,
    },
    async () => {
      const user = await makeUser(app, 'admin');
      const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => signIn(app, form, user.email, `wrong-guess-${i}`)));
      const checked = statuses.filter((s) => s === 401).length;
      assert.ok(
        statuses.every((s) => s === 401 || s === 429),
        JSON.stringify(statuses),
      );
      assert.ok(checked <= 10, `${checked} of 30 concurrent guesses were checked; the limit is 10`);
      assert.equal(await signIn(app, form, user.email, user.password), 429);
    },
  );

  test(
    'a right password after a few wrong ones signs in; sign-ins that succeed are not counted as failures',
    {
      timeout: 120_000,
    },
    async () => {
      const user = await makeUser(app, 'member');
      for (let i = 0; i < 3; i++) assert.equal(await signIn(app, form, user.email, `nope-${i}`), 401);
      assert.equal(await signIn(app, form, user.email, user.password), 303);
      // Counted, they would reach the limit of 10 for this account: 3 failures and 12 sign-ins.
      for (let i = 0; i < 12; i++) assert.equal(await signIn(app, form, user.email, user.password), 303, `sign-in ${i}`);
      assert.equal(await signIn(app, form, user.email, 'nope-again'), 401);
    },
  );
});

describe('sign-in limits for IPv6 clients', () => {
  let app: TestApp;
  let form: { cookie: string; csrf: string };
  before(async () => {
    // The test plays a proxy on 127.0.0.1 that reports each client's address in X-Forwarded-For.
    app = await startTestApp({ worker: false, config: { trustProxy: parseCidrs('127.0.0.1/32').cidrs } });
    form = await loginForm(app);
  });
  after(() => app.close());

  test(
    'one client is one /64: a new address of the same network for each guess is still limited, another network is not',
    {
      timeout: 120_000,
    },
    async () => {
      const user = await makeUser(app, 'admin');
      // Anyone given a /64 (one server, one home line) has 2^64 addresses to take a new one from for every guess.
      const from = (host: number) => ({ 'x-forwarded-for': `2001:db8:7:9::${host.toString(16)}` });
      for (let i = 1; i <= 10; i++) assert.equal(await signIn(app, form, user.email, `wrong-${i}`, from(i)), 401, `guess ${i}`);
      assert.equal(await signIn(app, form, user.email, 'wrong-11', from(0xbeef)), 429, 'an 11th address of the same /64');
      assert.equal(await signIn(app, form, user.email, user.password, { 'x-forwarded-for': '2001:db8:7:a::1' }), 303);
    },
  );
});
