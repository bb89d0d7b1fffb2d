// The console's customer pages in Chromium: a customer made by signed Stripe events appears under Customers,
// search finds it by email, name and provider id; the customer page shows identities, subscriptions, access and
// the timeline with links to the events; a name carrying markup is text; axe on both pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import {
  axeViolations,
  collectCspViolations,
  describeViolations,
  launchBrowser,
  makeUser,
  noBrowser,
  signedIn,
} from '../helpers/browser.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_console_customers_0123456789';
const HOSTILE = '<img src=x onerror=alert(1)>';
const T0 = Math.floor(Date.now() / 1000);

describe('console customers', { skip: noBrowser }, () => {
  let app: TestApp;
  let browser: Browser;
  let ws: string;

  async function send(type: string, object: Record<string, unknown>): Promise<void> {
    const payload = stripeEvent(type, object);
    const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  before(async () => {
    app = await startTestApp();
    browser = await launchBrowser();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Customers' })).body.id;
    const put = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    assert.equal(put.status, 200);
    await send('customer.created', { id: 'cus_ada', email: 'ada@example.test', name: 'Ada Lovelace' });
    await send('customer.created', { id: 'cus_hostile', email: 'hostile@example.test', name: HOSTILE });
    await send('customer.created', { id: 'cus_grace', email: 'grace@example.test', name: 'Grace Hopper' });
    await send('customer.subscription.created', {
      id: 'sub_ada',
      object: 'subscription',
      customer: 'cus_ada',
      status: 'active',
      cancel_at_period_end: false,
      current_period_start: T0,
      current_period_end: T0 + 30 * 86400,
      items: { object: 'list', data: [{ id: 'si_1', price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold' }, quantity: 1 }] },
    });
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('the customers appear, search finds one by email, name or provider id, and markup in a name is text', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${ws}/overview`);
    const csp = collectCspViolations(page);
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await page.getByRole('link', { name: 'Customers' }).click();
    await page.waitForURL(/\/customers$/);
    const names = await page.locator('main tbody tr td:first-child').allInnerTexts();
    assert.deepEqual(names.map((n) => n.trim()).sort(), ['Ada Lovelace', 'Grace Hopper', HOSTILE].sort());
    // The hostile name is text: no image element, no script run.
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.getByRole('link', { name: HOSTILE }).count(), 1);
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));

    await page.getByLabel('Search').fill('grace@example.test');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=grace/);
    assert.deepEqual(await page.locator('main tbody tr td:first-child').allInnerTexts(), ['Grace Hopper']);
    assert.equal(await page.getByLabel('Search').inputValue(), 'grace@example.test', 'the search stays in the box');

    for (const [q, expected] of [
      ['lovelace', 'Ada Lovelace'],
      ['cus_hostile', HOSTILE],
      ['%', null],
    ] as const) {
      await page.getByLabel('Search').fill(q);
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL((u) => u.searchParams.get('q') === q);
      const found = await page.locator('main tbody tr td:first-child').allInnerTexts();
      assert.deepEqual(found, expected ? [expected] : [], `search ${q}`);
    }
    assert.match(await page.locator('main').innerText(), /No customer matches/);

    await page.goto(`${app.url}/workspaces/${ws}/customers/cus_hostile`);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), HOSTILE);
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(dialogs, 0, 'no dialog opened');
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('the customer page: identities, subscriptions, access, the timeline linking to each event', async () => {
    const member = await makeUser(app, 'member', [ws]);
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/customers?q=ada`);
    await page.getByRole('link', { name: 'Ada Lovelace' }).click();
    await page.waitForURL(/\/customers\/cus_[0-9a-z]{24}$/);
    const customerUrl = page.url();
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Ada Lovelace');
    const main = await page.locator('main').innerText();
    assert.match(main, /ada@example\.test/);
    assert.match(main, /Identities \(1\)/);
    assert.match(main, /cus_ada/);
    assert.match(main, /Subscriptions \(1\)/);
    assert.match(main, /sub_ada\s+Gold\s+active/);
    assert.match(main, /Timeline \(2\)/);
    assert.match(main, /Access \(0\)/);
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));

    // Timeline → the event → back to the customer.
    await page.getByRole('link', { name: 'customer.subscription.created' }).click();
    await page.waitForURL(/\/events\/ev_[0-9a-z]{24}$/);
    assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /customer\.subscription\.created/);
    assert.match(await page.locator('main').innerText(), /subscriptions\s+sub_ada\s+active/, 'the CRM row it wrote');
    assert.match(await page.locator('main').innerText(), /subscription\.created/, 'the business message it published');
    await page.getByRole('link', { name: 'Ada Lovelace' }).click();
    await page.waitForURL(customerUrl);

    const missing = await page.goto(`${app.url}/workspaces/${ws}/customers/cus_nobody`);
    assert.equal(missing?.status(), 404);
    await context.close();
  });
});
