// One-time values in Chromium: a new API key, a new member's set-password link and an endpoint's rotated secret are
// shown on the page a form's POST redirects to, and reloading that page, or coming back to it with the back button,
// sends no form again (no second key, no second rotation) and shows the value no more, only that it was shown once,
// also where the browser keeps pages in its back/forward cache (as Chromium does outside tests). axe on the pages
// in both states.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { axeViolations, CHROMIUM, describeViolations, launchBrowser, makeUser, noBrowser, signedIn } from '../helpers/browser.js';

// Set to a directory to keep screenshots of the pages in both states.
const SHOTS = process.env.SLUICE_SCREENSHOTS;

async function check(page: Page, name: string, selector: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${name}: ${describeViolations(violations)}`);
  if (SHOTS) {
    mkdirSync(SHOTS, { recursive: true });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.locator(selector).screenshot({ path: `${SHOTS}/${name}-${scheme}.png` });
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }
}

/** The requests the page makes while `fn` runs, as "METHOD /path" (assets left out). */
async function requestsDuring(page: Page, fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (r: { method(): string; url(): string }) => {
    const path = new URL(r.url()).pathname;
    if (!path.startsWith('/assets/')) seen.push(`${r.method()} ${path}`);
  };
  page.on('request', listener);
  try {
    await fn();
  } finally {
    page.off('request', listener);
  }
  return seen;
}

describe('console one-time values in a browser', { skip: noBrowser }, () => {
  let app: TestApp;
  let browser: Browser;
  let ws: string;

  before(async () => {
    app = await startTestApp({ worker: false });
    browser = await launchBrowser();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Shown once' })).body.id;
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  const keyCount = async () => (await app.api('GET', `/api/v1/workspaces/${ws}/api-keys?limit=100`)).body.data.length as number;

  test('a new API key and a new member: reload and back show them no more and make nothing again', async () => {
    const admin = await makeUser(app, 'admin');
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/settings`);
    const before = await keyCount();
    await page.getByLabel('Key name').fill('reload me');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Create API key' }).click(),
    ]);
    assert.equal(answer.status(), 303);
    await page.waitForURL(/\/settings\?created=api-key&once=[A-Za-z0-9_-]+#api-keys$/);
    const key = await page.locator('section[aria-labelledby=api-keys] .copy code').innerText();
    assert.match(key, /^sk_ws_/);
    assert.ok(!page.url().includes(key), 'never in the URL');
    assert.equal(await keyCount(), before + 1);
    await check(page, 'api-key-shown', 'section[aria-labelledby=api-keys]');

    // Reload: a GET of the same address, no form sent again; the key is not on the page, the notice says why.
    const reload = await requestsDuring(page, () => page.reload());
    assert.deepEqual(reload, [`GET /workspaces/${ws}/settings`], 'the reload is one GET, not the form again');
    assert.equal(await keyCount(), before + 1, 'no second key');
    assert.ok(!(await page.content()).includes(key), 'the key is not shown again');
    assert.match(
      await page.locator('section[aria-labelledby=api-keys] .flash.once').innerText(),
      /was shown once and cannot be shown again\. If you did not copy it, revoke it and create a new one/,
    );
    await check(page, 'api-key-shown-once', 'section[aria-labelledby=api-keys]');

    // Away and back: the history entry is fetched again (no-store), and shows no key.
    await page.goto(`${app.url}/workspaces/${ws}/overview`);
    const back = await requestsDuring(page, () => page.goBack());
    assert.ok(!back.some((r) => r.startsWith('POST')), back.join(', '));
    assert.match(page.url(), /\/settings\?created=api-key/);
    assert.ok(!(await page.content()).includes(key), 'the back button does not bring it back');
    assert.equal(await keyCount(), before + 1);

    // A member's set-password link alike.
    await page.getByLabel('Member email').fill('reload.member@example.test');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.waitForURL(/\/settings\?created=member&once=[A-Za-z0-9_-]+#members$/);
    const link = await page.locator('section[aria-labelledby=members] .copy code').innerText();
    assert.match(link, /\/set-password\?token=/);
    const users = (await app.api('GET', '/api/v1/users')).body.data.length;
    const again = await requestsDuring(page, () => page.reload());
    assert.deepEqual(again, [`GET /workspaces/${ws}/settings`]);
    assert.ok(!(await page.content()).includes(link));
    assert.match(await page.locator('section[aria-labelledby=members] .flash.once').innerText(), /was shown once/);
    assert.equal((await app.api('GET', '/api/v1/users')).body.data.length, users, 'nobody added twice');
    await context.close();
  });

  test('the back/forward cache does not bring a value back', async () => {
    // Playwright turns the back/forward cache off; a person's Chromium has it, and restores a page from it, no-store
    // or not, without a request: the page itself must not keep the value.
    const cached = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
      ignoreDefaultArgs: ['--disable-back-forward-cache'],
    });
    try {
      const admin = await makeUser(app, 'admin');
      const { context, page } = await signedIn(cached, app, admin, `/workspaces/${ws}/settings`);
      await page.getByLabel('Key name').fill('back and forth');
      await page.getByRole('button', { name: 'Create API key' }).click();
      await page.waitForURL(/created=api-key&once=/);
      const key = await page.locator('section[aria-labelledby=api-keys] .copy code').innerText();
      assert.match(key, /^sk_ws_/);
      const before = await keyCount();
      await page.evaluate('window.sameDocument = true');
      await page.goto(`${app.url}/workspaces/${ws}/overview`);
      // history.back(): page.goBack() waits for a navigation request a restore from the cache never makes.
      const back = await requestsDuring(page, async () => {
        await page.evaluate('history.back()');
        // Restored from the cache (the same document) and then asked for again: a new document at that address.
        // Polled through page.evaluate: waitForFunction evaluates its text in the page, which the CSP refuses. Until
        // a new document at that address has loaded, or the restored one has stayed for a second.
        const STATE = '({ restored: window.sameDocument === true, search: location.search, ready: document.readyState })';
        for (let i = 0; i < 200; i++) {
          const s = (await page.evaluate(STATE).catch(() => undefined)) as { restored: boolean; search: string; ready: string } | undefined;
          if (s && !s.restored && s.search.includes('created=api-key') && s.ready === 'complete') break;
          if (s?.restored && i >= 20) break;
          await new Promise((r) => setTimeout(r, 50));
        }
      });
      assert.ok(!(await page.content()).includes(key), 'the key is not shown again');
      assert.match(await page.locator('section[aria-labelledby=api-keys] .flash.once').innerText(), /was shown once/);
      assert.ok(!back.some((r) => r.startsWith('POST')), back.join(', '));
      assert.equal(await keyCount(), before);
      await context.close();
    } finally {
      await cached.close();
    }
  });

  test("an endpoint's rotated secret: reload rotates nothing and shows it no more", async () => {
    const admin = await makeUser(app, 'admin');
    const ep = (await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'https://example.com/shown-once' })).body;
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/endpoints/${ep.id}`);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.waitForURL(/\?done=rotated&once=[A-Za-z0-9_-]+$/);
    const rotated = await page.locator('#revealed-secret code').innerText();
    const current = async () => (await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/secret`)).body.secret;
    assert.equal(rotated, await current());
    assert.notEqual(rotated, ep.secret);
    await check(page, 'endpoint-secret-shown', 'section[aria-labelledby=secret]');

    const reload = await requestsDuring(page, () => page.reload());
    assert.deepEqual(reload, [`GET /workspaces/${ws}/endpoints/${ep.id}`]);
    assert.equal(await current(), rotated, 'not rotated again');
    assert.ok(!(await page.content()).includes('whsec_'), 'no secret on the page');
    assert.match(await page.locator('section[aria-labelledby=secret]').innerText(), /new secret was shown once and cannot be shown again/);
    await check(page, 'endpoint-secret-shown-once', 'section[aria-labelledby=secret]');

    // Revealing it again works as before, and is itself shown once.
    await page.getByRole('button', { name: 'Reveal secret' }).click();
    await page.waitForURL(/\?done=revealed&once=/);
    assert.equal(await page.locator('#revealed-secret code').innerText(), rotated);
    await page.reload();
    assert.ok(!(await page.content()).includes('whsec_'));
    await context.close();
  });
});
