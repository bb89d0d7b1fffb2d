// Signing in to the console, in Chromium: the first admin's setup link, login with return to the page asked
// for, wrong passwords and their limit, sign-out, CSRF, and the headers every page carries.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { ensureSetupLink } from '../../src/services/users/ensure-setup-link.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import {
  axeViolations,
  collectCspViolations,
  describeViolations,
  launchBrowser,
  makeUser,
  noBrowser,
  signedIn,
} from '../helpers/browser.js';

describe('console sign-in', { skip: noBrowser }, () => {
  let app: TestApp;
  let browser: Browser;
  before(async () => {
    app = await startTestApp({ worker: false });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('the setup link creates the first admin once, signs them in, and they create a workspace', async () => {
    const replaced = await ensureSetupLink(app.ctx);
    const link = await ensureSetupLink(app.ctx); // a second start: only its link works
    assert.ok(replaced && link, 'no user yet: a setup link is offered');
    const context = await browser.newContext();
    const page = await context.newPage();
    // Nobody can sign in yet, so there is no admin to ask: the page says how to get a working link.
    const old = await page.goto(replaced);
    assert.equal(old?.status(), 410);
    const unclaimed = await page.locator('main').innerText();
    assert.match(unclaimed, /If nobody can sign in yet, restart Sluice/);
    const csp = collectCspViolations(page);
    await page.goto(link);
    // Where the others are added: the settings page first, as docs/console.md says, not only the command line.
    assert.match(
      await page.locator('main').innerText(),
      /add the others from a workspace's Settings page \(Members\), the command line or the API/,
    );
    const setupViolations = await axeViolations(page);
    assert.deepEqual(setupViolations, [], describeViolations(setupViolations));
    await page.getByLabel('Email').fill('admin@localhost'); // passes the browser's check, not ours
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByLabel('Repeat the password').fill('other');
    await page.getByRole('button', { name: /Create admin/ }).click();
    // Each problem next to its field, what was typed kept.
    assert.match(await page.locator('#f-email-error').innerText(), /email address/);
    assert.match(await page.locator('#f-password-error').innerText(), /at least 12/);
    assert.equal(await page.getByLabel('Email').inputValue(), 'admin@localhost');

    await page.getByLabel('Email').fill('first.admin@example.test');
    await page.getByLabel('Password', { exact: true }).fill('a long enough password');
    await page.getByLabel('Repeat the password').fill('a long enough password');
    await page.getByRole('button', { name: /Create admin/ }).click();
    await page.waitForURL(/\/workspaces$/);
    await page.getByLabel('Name').fill('Acme <script>alert(1)</script>');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.waitForURL(/\/workspaces\/ws_[0-9a-z]{24}\/settings/);
    // The name is text, never markup.
    await page.goto(`${app.url}/workspaces`);
    assert.equal(await page.getByRole('link', { name: 'Acme <script>alert(1)</script>' }).count(), 1);
    const listViolations = await axeViolations(page);
    assert.deepEqual(listViolations, [], describeViolations(listViolations));
    assert.equal(await page.locator('main script').count(), 0);
    assert.deepEqual(csp, [], 'no Content-Security-Policy violation');

    // The link worked once.
    const again = await context.newPage();
    const res = await again.goto(link);
    assert.equal(res?.status(), 410);
    const claimed = await again.locator('main').innerText();
    assert.match(claimed, /Ask an admin for a new one/);
    // The same page whether or not anyone can sign in: a stranger's guess does not tell a fresh instance apart.
    assert.equal(claimed, unclaimed);
    await context.close();
  });

  test('a signed-out visit goes to the login, then back to the page asked for; wrong passwords are limited', async () => {
    const ws = await app.api('POST', '/api/v1/workspaces', { name: 'Return here' });
    const user = await makeUser(app, 'viewer', [ws.body.id]);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${app.url}/workspaces/${ws.body.id}/overview?x=1`);
    assert.match(page.url(), /\/login\?next=/);
    const loginViolations = await axeViolations(page);
    assert.deepEqual(loginViolations, [], describeViolations(loginViolations));
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill('wrong password!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await page.getByRole('alert').innerText(), /not right/);
    assert.equal(await page.getByLabel('Email').inputValue(), user.email, 'the email is kept');
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${app.url}/workspaces/${ws.body.id}/overview?x=1`);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Return here');
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));

    // Signed out: the session no longer opens pages.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.goto(`${app.url}/workspaces/${ws.body.id}/overview`);
    assert.match(page.url(), /\/login/);
    await context.close();

    // Ten wrong passwords for one account: the eleventh attempt is refused even with the right one.
    const target = await makeUser(app, 'viewer');
    const form = async (password: string) => {
      const login = await fetch(`${app.url}/login`);
      const cookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())![1]!;
      return fetch(`${app.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ _csrf: csrf, email: target.email, password, next: '/' }),
      });
    };
    for (let i = 0; i < 10; i++) assert.equal((await form('nope nope nope')).status, 401);
    const limited = await form(target.password);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
  });

  test('forms without their CSRF token, or from another site, are refused and change nothing', async () => {
    const admin = await makeUser(app, 'admin');
    const { context, page } = await signedIn(browser, app, admin);
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const before = (await app.api('GET', '/api/v1/workspaces?limit=500')).body.data.length;
    const noToken = await fetch(`${app.url}/workspaces`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: 'name=Forged',
    });
    assert.equal(noToken.status, 403);
    assert.match(await noToken.text(), /security token/);
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const crossSite = await fetch(`${app.url}/workspaces`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: 'https://evil.example' },
      body: new URLSearchParams({ _csrf: csrf, name: 'Forged' }),
    });
    assert.equal(crossSite.status, 403);
    // The API takes the session too, and wants the token in X-CSRF-Token for changes.
    const apiNoToken = await fetch(`${app.url}/api/v1/workspaces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ name: 'Forged' }),
    });
    assert.equal(apiNoToken.status, 403);
    assert.equal((await app.api('GET', '/api/v1/workspaces?limit=500')).body.data.length, before, 'nothing created');
    const apiWithToken = await fetch(`${app.url}/api/v1/workspaces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
      body: JSON.stringify({ name: 'Made in the console session' }),
    });
    assert.equal(apiWithToken.status, 201);
    await context.close();
  });

  test('pages carry a strict CSP with a nonce and no unsafe-eval; no upgrade-insecure-requests over http', async () => {
    const res = await fetch(`${app.url}/login`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    assert.ok(!/unsafe-eval|unsafe-inline|upgrade-insecure-requests/.test(csp), csp);
    const html = await res.text();
    for (const tag of html.match(/<script[^>]*>/g) ?? []) assert.ok(tag.includes(`nonce="${nonce}"`) && tag.includes('src="/assets/'), tag);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const cookie = res.headers.getSetCookie().join('\n');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
  });
});
