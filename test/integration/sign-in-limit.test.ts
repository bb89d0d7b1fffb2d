// The sign-in limits (10 failures per address and email, 100 per address, in 15 minutes) hold for guesses sent all
// at once too: checking a password takes a scrypt hash (tens of milliseconds), and a burst of sign-ins that each
// looked at the count before any of them had failed was checked in full, every guess of it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { makeUser } from '../helpers/browser.js';

async function signIn(app: TestApp, form: { cookie: string; csrf: string }, email: string, password: string): Promise<number> {
  const res = await fetch(`${app.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: form.csrf, email, password, next: '/' }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('sign-in limits under concurrent guesses', () => {
  let app: TestApp;
  let form: { cookie: string; csrf: string };
  before(async () => {
    app = await startTestApp({ worker: false });
    const page = await fetch(`${app.url}/login`);
    form = {
      cookie: page.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; '),
      csrf: /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!,
    };
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
